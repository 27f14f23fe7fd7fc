#!/usr/bin/env python3
"""Regenerates loa's administrative-unit reference CSVs from the PyPI package `vietnam-provinces`
(2025 list after the 1 July 2025 reform: 34 provinces, 3,321 communes/wards/special zones, no
district level).

Usage: ops/refdata/regenerate.sh   (creates a venv, installs vietnam-provinces, runs this)

Writes to Sources/LoaReference/Resources/:
  provinces-2025.csv      code,name,codename,division_type,phone_code
  communes-2025.csv       code,name,codename,division_type,province_code
  provinces-pre2025.csv   old_code,old_name,new_code   (the 63 provinces before 1 July 2025)
"""
import csv, json, pathlib, sys
from vietnam_provinces import NESTED_DIVISIONS_JSON_PATH

# Resolution 202/2025/QH15 (12 June 2025): which pre-2025 province went into which new one.
# Keys are the old GSO codes; values the codename of the province it belongs to since 1 July 2025.
PRE_2025 = {
    1: ("Thành phố Hà Nội", "ha_noi"), 2: ("Hà Giang", "tuyen_quang"), 4: ("Cao Bằng", "cao_bang"),
    6: ("Bắc Kạn", "thai_nguyen"), 8: ("Tuyên Quang", "tuyen_quang"), 10: ("Lào Cai", "lao_cai"),
    11: ("Điện Biên", "dien_bien"), 12: ("Lai Châu", "lai_chau"), 14: ("Sơn La", "son_la"),
    15: ("Yên Bái", "lao_cai"), 17: ("Hòa Bình", "phu_tho"), 19: ("Thái Nguyên", "thai_nguyen"),
    20: ("Lạng Sơn", "lang_son"), 22: ("Quảng Ninh", "quang_ninh"), 24: ("Bắc Giang", "bac_ninh"),
    25: ("Phú Thọ", "phu_tho"), 26: ("Vĩnh Phúc", "phu_tho"), 27: ("Bắc Ninh", "bac_ninh"),
    30: ("Hải Dương", "hai_phong"), 31: ("Thành phố Hải Phòng", "hai_phong"), 33: ("Hưng Yên", "hung_yen"),
    34: ("Thái Bình", "hung_yen"), 35: ("Hà Nam", "ninh_binh"), 36: ("Nam Định", "ninh_binh"),
    37: ("Ninh Bình", "ninh_binh"), 38: ("Thanh Hóa", "thanh_hoa"), 40: ("Nghệ An", "nghe_an"),
    42: ("Hà Tĩnh", "ha_tinh"), 44: ("Quảng Bình", "quang_tri"), 45: ("Quảng Trị", "quang_tri"),
    46: ("Thừa Thiên Huế", "hue"), 48: ("Thành phố Đà Nẵng", "da_nang"), 49: ("Quảng Nam", "da_nang"),
    51: ("Quảng Ngãi", "quang_ngai"), 52: ("Bình Định", "gia_lai"), 54: ("Phú Yên", "dak_lak"),
    56: ("Khánh Hòa", "khanh_hoa"), 58: ("Ninh Thuận", "khanh_hoa"), 60: ("Bình Thuận", "lam_dong"),
    62: ("Kon Tum", "quang_ngai"), 64: ("Gia Lai", "gia_lai"), 66: ("Đắk Lắk", "dak_lak"),
    67: ("Đắk Nông", "lam_dong"), 68: ("Lâm Đồng", "lam_dong"), 70: ("Bình Phước", "dong_nai"),
    72: ("Tây Ninh", "tay_ninh"), 74: ("Bình Dương", "ho_chi_minh"), 75: ("Đồng Nai", "dong_nai"),
    77: ("Bà Rịa - Vũng Tàu", "ho_chi_minh"), 79: ("Thành phố Hồ Chí Minh", "ho_chi_minh"),
    80: ("Long An", "tay_ninh"), 82: ("Tiền Giang", "dong_thap"), 83: ("Bến Tre", "vinh_long"),
    84: ("Trà Vinh", "vinh_long"), 86: ("Vĩnh Long", "vinh_long"), 87: ("Đồng Tháp", "dong_thap"),
    89: ("An Giang", "an_giang"), 91: ("Kiên Giang", "an_giang"), 92: ("Thành phố Cần Thơ", "can_tho"),
    93: ("Hậu Giang", "can_tho"), 94: ("Sóc Trăng", "can_tho"), 95: ("Bạc Liêu", "ca_mau"), 96: ("Cà Mau", "ca_mau"),
}

def main(out_dir: pathlib.Path) -> None:
    provinces = json.loads(NESTED_DIVISIONS_JSON_PATH.read_text(encoding="utf-8"))
    by_codename = {p["codename"]: p for p in provinces}
    assert len(provinces) == 34, len(provinces)
    assert len(PRE_2025) == 63, len(PRE_2025)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "provinces-2025.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "codename", "division_type", "phone_code"])
        for p in sorted(provinces, key=lambda p: p["code"]):
            w.writerow([p["code"], p["name"], p["codename"], p["division_type"], p.get("phone_code") or ""])
    count = 0
    with (out_dir / "communes-2025.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "codename", "division_type", "province_code"])
        for p in sorted(provinces, key=lambda p: p["code"]):
            for c in sorted(p["wards"], key=lambda c: c["code"]):
                w.writerow([c["code"], c["name"], c["codename"], c["division_type"], p["code"]])
                count += 1
    assert count == 3321, count
    with (out_dir / "provinces-pre2025.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["old_code", "old_name", "new_code"])
        for code, (name, new) in sorted(PRE_2025.items()):
            w.writerow([code, name, by_codename[new]["code"]])
    print(f"wrote 34 provinces, {count} communes, 63 pre-2025 provinces to {out_dir}")

if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2] / "Sources/LoaReference/Resources")
