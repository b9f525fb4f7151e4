"""One sentence in each of seven scripts, and an article page of it in any byte encoding that can write
it, its ``<meta charset>`` naming that encoding: for the tests of decoding pages whose labels lie."""

from __future__ import annotations

SENTENCES = {
    "latin": "Le conseil municipal a voté jeudi un budget modeste pour la façade de l'école, déjà rénovée à moitié.",
    "cyrillic": "Городской совет в четверг утвердил скромный бюджет на ремонт фасада школы и моста через реку.",
    "greek": "Το δημοτικό συμβούλιο ενέκρινε την Πέμπτη έναν μικρό προϋπολογισμό για την πρόσοψη του σχολείου.",
    "japanese": "市議会は木曜日、学校の正面と川にかかる橋の修理のための小さな予算を承認しました。",
    "korean": "시의회는 목요일 학교 정면과 강을 가로지르는 다리 보수를 위한 작은 예산을 승인했습니다.",
    "chinese": "市议会星期四批准了一笔不大的预算，用于修缮学校正面和横跨河流的桥梁。",
    "arabic": "وافق المجلس البلدي يوم الخميس على ميزانية متواضعة لترميم واجهة المدرسة والجسر فوق النهر.",
}
LANG = {"latin": "fr", "cyrillic": "ru", "greek": "el", "japanese": "ja", "korean": "ko", "chinese": "zh",
        "arabic": "ar"}


def page(script: str, encoding: str) -> bytes:
    sentence = SENTENCES[script]
    paras = "".join(f"<p>{sentence} ({i})</p>" for i in range(1, 7))
    html = (f"<!doctype html><html lang='{LANG[script]}'><head><meta charset='{encoding}'>"
            f"<title>{sentence[:30]}</title></head><body><article><h1>{sentence[:30]}</h1>{paras}"
            f"</article></body></html>")
    return html.encode(encoding)
