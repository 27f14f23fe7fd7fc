# A mixed corpus of SMS texts, one JSON string per line, NFC: Vietnamese with and without
# diacritics, GSM-7 extension characters, emoji, Lao, Chinese. Usage: corpus.py LINES > FILE
import json, random, sys, unicodedata
random.seed(7)
vi = ["Thông báo khẩn: bão số 3 đổ bộ vào các xã biên giới chiều nay.", "Bà con không ra khơi, không đi rừng, gia cố nhà cửa và theo dõi loa xã.",
      "UBND xã Bờ Y: mùa khô nguy cơ cháy rừng rất cao. Không đốt nương.", "Người dân di chuyển ngay lên vùng cao, không qua suối, theo hướng dẫn của trưởng thôn."]
plain = ["Thong bao khan: bao so 3 do bo vao cac xa bien gioi chieu nay.", "Ba con khong ra khoi, khong di rung, gia co nha cua.",
         "UBND xa Bo Y: mua kho nguy co chay rung rat cao. Khong dot nuong."]
ext = ["Gia [moi] {100} ~ 200 | ^ \\ €5", "Lien he: {hotline} [24/7] ~ tram bien phong"]
emoji = ["Cảnh báo 🌧️⚠️ mưa lớn", "⚠️ Lũ quét 🌊 di chuyển lên cao ⛰️", "OK 👍"]
lao = ["ສະບາຍດີ ການແຈ້ງເຕືອນ ໄຟໄໝ້ປ່າ", "ກະລຸນາຢ່ານຳໄຟເຂົ້າປ່າ"]
zh = ["旱季森林火灾风险很高。请不要烧田，不要把火带进森林。", "发现火情请立即报告村长或边防站。"]
pools = [vi, vi, plain, ext, emoji, lao, zh]
n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
for i in range(n):
    parts = [random.choice(random.choice(pools)) for _ in range(random.choice([1, 1, 2, 3, 5]))]
    text = unicodedata.normalize("NFC", " ".join(parts))
    print(json.dumps(text, ensure_ascii=False))
