/// The console's stylesheet and script, written here and served by loa (no CDN, no fonts or
/// code from elsewhere). The pages work without the script; it adds live updates, reading a
/// campaign file into the form, and confirmations.
enum ConsoleAssets {
    /// A loudspeaker on the department's blue.
    static let icon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b3d6b"/>\
        <path d="M7 13h5l8-6v18l-8-6H7z" fill="#fff"/><path d="M23 11q3 5 0 10" stroke="#fff" stroke-width="2" fill="none"/></svg>

        """

    static let css = """
        :root { --ink: #1a1a1a; --muted: #4a4a4a; --line: #c8c8c8; --bg: #fff; --accent: #0b5394; --ok: #1e6b2e; --bad: #a11d1d; --warn: #7a4d00; }
        * { box-sizing: border-box; }
        body { margin: 0; font-family: "Noto Sans", "DejaVu Sans", "Segoe UI", Arial, sans-serif; font-size: 16px; line-height: 1.45; color: var(--ink); background: var(--bg); }
        .skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 6px; z-index: 2; }
        header { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: center; padding: 10px 20px; background: #0b3d6b; color: #fff; }
        header a, header .link { color: #fff; }
        .brand { font-weight: bold; font-size: 20px; text-decoration: none; }
        nav a { margin-right: 14px; } nav a[aria-current="page"] { font-weight: bold; text-decoration: underline; }
        .who { margin-left: auto; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
        .who form { display: inline; margin: 0; }
        main { padding: 16px 20px 40px; max-width: 1320px; overflow-wrap: anywhere; }
        td, th { overflow-wrap: normal; } td.text, ol.trail li, .trail-table td { overflow-wrap: anywhere; }
        h1 { font-size: 24px; margin: 4px 0 12px; } h2 { font-size: 19px; margin-top: 26px; }
        a { color: var(--accent); } a:focus, button:focus, input:focus, select:focus, textarea:focus { outline: 3px solid #f0a500; outline-offset: 1px; }
        .sub, .hint { color: var(--muted); font-size: 14px; }
        .problem { border-left: 5px solid var(--bad); background: #fdeeee; padding: 8px 12px; color: #5a0d0d; }
        .ok { border-left: 5px solid var(--ok); background: #eaf6ec; padding: 8px 12px; }
        .flag { color: var(--warn); font-size: 13px; font-weight: bold; }
        table { border-collapse: collapse; width: 100%; margin: 8px 0; } caption { text-align: left; font-weight: bold; padding: 4px 0; }
        th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
        thead th { background: #eef2f6; } tfoot th, tfoot td { font-weight: bold; border-top: 2px solid var(--ink); }
        td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        td.text { max-width: 34em; }
        .scroll { overflow-x: auto; }
        .state { padding: 1px 8px; border-radius: 10px; font-size: 14px; background: #e6e6e6; white-space: nowrap; }
        .state.sending, .state.approved { background: #dbeafe; } .state.completed { background: #dcf3e0; }
        .state.rejected, .state.cancelled { background: #fbe0e0; } .state.paused { background: #fff0c2; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; } dl.facts dt { font-weight: bold; } dl.facts dd { margin: 0; }
        .hash { font-size: 13px; word-break: break-all; }
        button, .button { display: inline-block; font: inherit; padding: 7px 14px; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; margin: 2px 4px 2px 0; }
        .button { background: #fff; color: var(--accent); } button.danger { background: var(--bad); border-color: var(--bad); }
        button.link { background: none; border: none; padding: 0; text-decoration: underline; }
        .actions { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-end; margin: 14px 0; padding: 10px; background: #f5f7fa; }
        form.inline { display: inline-flex; gap: 6px; align-items: center; flex-wrap: wrap; margin: 0; }
        form.narrow { max-width: 420px; display: grid; gap: 6px; }
        label { font-weight: bold; font-size: 15px; }
        input, select, textarea { font: inherit; padding: 6px 8px; border: 1px solid #767676; border-radius: 3px; max-width: 100%; }
        textarea { width: 100%; } .campaign-form input:not([type=file]), .campaign-form select { width: 100%; }
        fieldset { border: 1px solid var(--line); margin: 0 0 16px; padding: 10px 14px; } legend { font-weight: bold; }
        .field { margin-bottom: 10px; } .field.invalid input, .field.invalid textarea, .field.invalid select { border: 2px solid var(--bad); }
        .error { color: var(--bad); margin: 2px 0 0; font-size: 14px; }
        .measure { color: var(--muted); font-size: 13px; }
        progress { width: 110px; vertical-align: middle; }
        .tabs a { margin-right: 12px; } .tabs a[aria-current="page"] { font-weight: bold; }
        figure { margin: 10px 0; } svg.chart, svg.map { width: 100%; max-width: 760px; height: auto; display: block; }
        svg .sent { fill: #b7cde3; } svg .delivered { fill: #0b5394; } svg .label { font-size: 12px; fill: #222; } svg .small { font-size: 10px; }
        svg .value { font-size: 11px; fill: #333; } svg .axis { stroke: #555; }
        svg .ground { fill: #f4f1ea; } svg .cell { fill: none; stroke: #8a8a8a; } svg .cell.targeted { fill: #0b5394; stroke: #062c50; }
        svg .border { fill: none; stroke: #a11d1d; stroke-width: 2; stroke-dasharray: 6 3; } svg .polygon { fill: rgba(11,83,148,.12); stroke: #0b5394; }
        svg .scale { stroke: #222; stroke-width: 2; }
        .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 16px; }
        ol.trail { padding-left: 20px; font-size: 14px; } ol.trail time { color: var(--muted); }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        @media (max-width: 600px) {
          header { padding: 8px 12px; } main { padding: 12px; } .who { margin-left: 0; }
          dl.facts { grid-template-columns: 1fr; } th, td { padding: 5px; font-size: 14px; }
        }
        @media print { header, .actions, .links, .tabs { display: none; } }

        """

    static let javascript = """
        'use strict';
        // A campaign file chosen on disk fills the text box (the server checks it).
        document.querySelectorAll('input[type=file][data-fills]').forEach(function (input) {
          input.addEventListener('change', function () {
            var file = input.files && input.files[0];
            if (!file) return;
            var reader = new FileReader();
            reader.onload = function () { document.getElementById(input.dataset.fills).value = String(reader.result); };
            reader.readAsText(file, 'utf-8');
          });
        });
        // Characters typed so far (the exact encoding, parts and cost come from loa once checked).
        document.querySelectorAll('textarea[data-measure]').forEach(function (area) {
          var out = area.parentNode.querySelector('output.measure');
          function show() { if (out) out.textContent = Array.from(area.value.normalize('NFC')).length + ' / ' + (document.documentElement.lang === 'vi' ? 'ký tự' : 'characters'); }
          area.addEventListener('input', show); show();
        });
        document.querySelectorAll('form[data-confirm]').forEach(function (form) {
          form.addEventListener('submit', function (event) { if (!window.confirm(form.dataset.confirm)) event.preventDefault(); });
        });
        // The dispatch table follows the store every two seconds, without a reload.
        document.querySelectorAll('table[data-live]').forEach(function (table) {
          var vi = document.documentElement.lang === 'vi';
          function number(v) { return v === null || v === undefined ? '–' : Number(v).toLocaleString(vi ? 'vi-VN' : 'en-US'); }
          function row(carrier) {
            var tr = table.querySelector('tr[data-carrier="' + CSS.escape(carrier) + '"]');
            if (tr) return tr;
            tr = document.createElement('tr');
            tr.dataset.carrier = carrier;
            var th = document.createElement('th'); th.scope = 'row'; th.textContent = carrier; tr.appendChild(th);
            table.querySelectorAll('thead th').forEach(function (head, i) {
              if (i === 0) return;
              var td = document.createElement('td'); td.className = 'n'; tr.appendChild(td);
            });
            var keys = ['rate', 'planned', 'submitted', 'accepted', 'delivered', 'failed', 'no-receipt', 'unknown', 'rejected', 'expired', 'retries'];
            Array.from(tr.querySelectorAll('td')).forEach(function (td, i) { td.dataset.k = keys[i]; });
            table.tBodies[0].appendChild(tr);
            return tr;
          }
          function poll() {
            fetch(table.dataset.live, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
              .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
              .then(function (data) {
                data.carriers.forEach(function (c) {
                  var tr = row(c.carrier);
                  tr.querySelectorAll('td[data-k]').forEach(function (td) {
                    var k = td.dataset.k;
                    if (k === 'rate') td.textContent = number(c.rate) + ' / ' + (c.tps === null ? '?' : c.tps);
                    else if (k in c) td.textContent = number(c[k]);
                  });
                });
                table.dataset.state = data.state;
                var busy = data.carriers.some(function (c) { return c.planned > 0 || c.submitted > 0 || c.accepted > 0; });
                if (data.state !== 'completed' && data.state !== 'cancelled' || busy) window.setTimeout(poll, 2000);
              })
              .catch(function () { window.setTimeout(poll, 5000); });
          }
          poll();
        });

        """
}
