"""Language names for the catalog's language codes (goodbooks uses MARC/ISO 639-2 codes and a few IETF tags)."""

from django.conf.locale import LANG_INFO

LANGUAGE_NAMES = {
    "eng": "English", "en-US": "English (US)", "en-GB": "English (UK)", "en-CA": "English (Canada)",
    "spa": "Spanish", "fre": "French", "fra": "French", "ger": "German", "deu": "German", "ara": "Arabic",
    "ind": "Indonesian", "por": "Portuguese", "ita": "Italian", "jpn": "Japanese", "dut": "Dutch", "nld": "Dutch",
    "pol": "Polish", "swe": "Swedish", "dan": "Danish", "fil": "Filipino", "tur": "Turkish", "per": "Persian",
    "fas": "Persian", "rus": "Russian", "nor": "Norwegian", "vie": "Vietnamese", "rum": "Romanian",
    "ron": "Romanian", "chi": "Chinese", "zho": "Chinese", "kor": "Korean", "gre": "Greek", "ell": "Greek",
    "heb": "Hebrew", "hin": "Hindi", "cze": "Czech", "ces": "Czech", "fin": "Finnish", "hun": "Hungarian",
    "mul": "Multiple languages",
}


def language_name(code):
    """"English" for "eng"; Django's own names for two-letter codes ("nl" → "Dutch"); else the code itself."""
    if not code:
        return ""
    if code in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[code]
    info = LANG_INFO.get(code.lower()) or LANG_INFO.get(code.split("-")[0].lower())
    return info["name"] if info and "name" in info else code
