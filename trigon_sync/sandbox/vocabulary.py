"""The words the sandbox's invented Estonian world is made of: places, trades, societies,
people and towns, and how a person would retype a firm's name into Uku.

Kept apart from the generator so the generator reads as the rules of the world (how many
records, which anomalies) and this as its vocabulary.
"""

from __future__ import annotations

PLACES = (
    "Põhja",
    "Lõuna",
    "Lääne",
    "Ida",
    "Kesk",
    "Mere",
    "Järve",
    "Kase",
    "Tamme",
    "Männi",
    "Kuuse",
    "Pärna",
    "Vahtra",
    "Saare",
    "Rannu",
    "Valge",
    "Musta",
    "Kivi",
    "Sepa",
    "Rebase",
    "Karu",
    "Hundi",
    "Kotka",
    "Luige",
    "Tähe",
    "Päikese",
    "Vikerkaare",
    "Harju",
    "Viru",
    "Tartu",
    "Pärnu",
    "Narva",
    "Emajõe",
    "Toome",
    "Kalevi",
    "Linda",
    "Ugala",
    "Oru",
    "Raba",
    "Nõmme",
)
TRADES = (
    "Ehitus",
    "Kinnisvara",
    "Raamatupidamine",
    "Logistika",
    "Puit",
    "Teenused",
    "Konsult",
    "Metall",
    "Auto",
    "Aed",
    "Kaubandus",
    "Transport",
    "Energia",
    "Arendus",
    "Disain",
    "Meedia",
    "Toit",
    "Pagar",
    "Kohvik",
    "Hambaravi",
    "Ilu",
    "Turva",
    "Koristus",
    "Elekter",
    "Torutööd",
    "Mööbel",
    "Tarkvara",
    "Põllumajandus",
    "Kala",
    "Reisid",
)
SOCIETIES = (
    "Spordiselts",
    "Kultuuriselts",
    "Külaselts",
    "Korteriühistu",
    "Jahiselts",
    "Lasteaia Sõbrad",
)
FIRST_NAMES = ("Mari", "Jaan", "Kadri", "Tiit", "Liis", "Margus", "Kati", "Andres", "Pille", "Rein")
LAST_NAMES = ("Tamm", "Saar", "Sepp", "Mägi", "Kask", "Kukk", "Rebane", "Ilves", "Pärn", "Koppel")
STREETS = ("Narva mnt", "Pärnu mnt", "Tartu mnt", "Riia", "Vabaduse pst", "Kalda", "Jõe")
TOWNS = (
    ("Tallinn", "Kesklinna linnaosa", "Harju maakond"),
    ("Tartu", "Tartu linn", "Tartu maakond"),
    ("Pärnu", "Pärnu linn", "Pärnu maakond"),
    ("Narva", "Narva linn", "Ida-Viru maakond"),
)


def respell(name: str, variant: int) -> str:
    """The same firm as a person would type it into Uku: case, legal form, diacritics."""
    plain = name.translate(str.maketrans("ÕÄÖÜõäöü", "OAOUoaou"))
    spelled = (
        name.replace(" OÜ", " osaühing")
        .replace(" AS", " aktsiaselts")
        .replace("MTÜ ", "Mittetulundusühing ")
        .replace(" MTÜ", " mittetulundusühing")
    )
    options = (name.upper(), spelled, plain, name.lower())
    chosen = options[variant % len(options)]
    return chosen if chosen != name else name.upper()
