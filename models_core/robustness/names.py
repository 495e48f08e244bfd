"""First names by origin, for the person-name swap suite.

Small curated lists written here (the `names` package draws names without any origin, and no census list
of origins ships with the project). Each origin has female and male first names that are common in that
naming tradition and are not English words (no "Hope", "Will", "Grace"); no name appears under two origins.
They are instruments for a test, not a classification of people: a name only tells the suite which list a
swap comes from, and the report states the lists it used. An audit may pass its own lists
(``{"origin": {"female": [...], "male": [...]}}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from models_core.errors import InputError

NAMES_BY_ORIGIN: dict[str, dict[str, tuple[str, ...]]] = {
    "anglo": {"female": ("Emily", "Sarah", "Hannah", "Rebecca", "Megan", "Laura", "Rachel", "Abigail",
                         "Katherine", "Emma"),
              "male": ("James", "Thomas", "William", "Oliver", "Jack", "George", "Henry", "Edward", "Andrew",
                       "Matthew")},
    "hispanic": {"female": ("Maria", "Lucia", "Camila", "Valentina", "Guadalupe", "Ximena", "Rocio", "Paola",
                            "Marisol", "Adriana"),
                 "male": ("Jose", "Alejandro", "Santiago", "Diego", "Javier", "Carlos", "Miguel", "Joaquin",
                          "Rodrigo", "Fernando")},
    "west_african": {"female": ("Chioma", "Ngozi", "Adaeze", "Folasade", "Abena", "Yetunde", "Oluwaseun",
                                "Nkechi", "Akosua", "Funmilayo"),
                     "male": ("Chinedu", "Oluwadamilare", "Kwame", "Emeka", "Babatunde", "Kofi", "Obinna",
                              "Adebayo", "Tunde", "Ikechukwu")},
    "arabic": {"female": ("Fatima", "Aisha", "Mariam", "Layla", "Noor", "Yasmin", "Amira", "Huda", "Salma",
                          "Rania"),
               "male": ("Mohammed", "Ahmed", "Omar", "Khalid", "Youssef", "Hassan", "Tariq", "Karim", "Bilal",
                        "Mustafa")},
    "south_asian": {"female": ("Priya", "Ananya", "Deepika", "Lakshmi", "Kavya", "Sunita", "Meenakshi",
                               "Aditi", "Shreya", "Pooja"),
                    "male": ("Rahul", "Arjun", "Vikram", "Sanjay", "Rajesh", "Anil", "Pradeep", "Suresh",
                             "Aditya", "Ravi")},
    "east_asian": {"female": ("Mei", "Yuki", "Sakura", "Xiu", "Jiyeon", "Haruka", "Ling", "Minji", "Aiko",
                              "Xiaoling"),
                   "male": ("Wei", "Hiroshi", "Jun", "Takeshi", "Minho", "Haruto", "Jian", "Seojun", "Kenji",
                            "Zhihao")},
}


def validate_name_lists(lists: Mapping[str, Mapping[str, Sequence[str]]]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Checked copies of name lists by origin: at least two origins, each with non-empty lists per gender,
    the same genders everywhere, and no name under two origins (case-insensitive)."""
    if not isinstance(lists, Mapping) or len(lists) < 2:
        raise InputError("name lists need at least two origins")
    clean: dict[str, dict[str, tuple[str, ...]]] = {}
    genders = None
    seen: dict[str, str] = {}
    for origin, by_gender in lists.items():
        if not isinstance(by_gender, Mapping) or not by_gender:
            raise InputError(f"origin {origin!r}: give names per gender, e.g. {{'female': [...], 'male': [...]}}")
        if genders is None:
            genders = set(by_gender)
        elif set(by_gender) != genders:
            raise InputError(f"origin {origin!r} has genders {sorted(by_gender)}, others {sorted(genders)}")
        clean[str(origin)] = {}
        for gender, names in by_gender.items():
            names = tuple(str(n).strip() for n in names)
            if not names or not all(n and n.isalpha() for n in names):
                raise InputError(f"origin {origin!r}, {gender}: names must be single words of letters")
            for name in names:
                other = seen.setdefault(name.lower(), str(origin))
                if other != str(origin):
                    raise InputError(f"{name!r} is listed under both {other!r} and {origin!r}")
            clean[str(origin)][str(gender)] = names
    return clean
