"""Names, streets and places per country, and how often each name occurs.

Two sets of names. Realistic names, the default, come from ``name_frequencies.json``:
per country, the 3,000 commonest surnames and the 1,000 commonest first names of each
sex, in rank order. The ranks are those of the PyPI package ``names-dataset`` 3.3.1
(Philippe Remy, Apache License 2.0), which its author derived from the 2021 Facebook
leak; only aggregate lists of common names are kept. ``scripts/extract_names.py``
builds the file. It also fits each list's frequencies, a Zipf-Mandelbrot law
``p(r) = A / (r + q)``, to published figures:

- the commonest surname's share: Martin 0.34% of the French, Müller 0.86% of Germans,
  Smith 1.2% of Britons and 0.83% of Americans, García 3.1% of Spaniards, Rossi 0.13%
  of Italians, de Jong 0.53% of the Dutch;
- the number of distinct surnames: 1.3 million in France, 850,000 in Germany, 6.3
  million in the U.S. (the sources are in the script and in the file).

Checked against figures not used in the fit, the law gives the 239 commonest U.S.
surnames 24.7% of people (2010 Census: 25%) and the 500 commonest British ones 39.6%
(England and Wales: 39.3%). It overstates the ten commonest surnames' share by up to
1.5 times in France, Germany and Britain (2.9% against 1.9% in France), twice in Italy,
and understates Spain's (13% against 20%). The commonest first name of a sex holds 2-3%,
and its 1,000 commonest names 85%.

Ranks beyond the stored lists keep their real weight: more than half of all French,
American or Italian persons bear a surname outside the top 3,000. Those ranks get
made-up names, one per rank, so a rare name stays rare. A made-up surname joins the
start of one listed surname to the end of another (Ber|nard + Du|bois -> "Berbois"),
with the country's share of particles ("de", "van der"). A made-up first name joins
two common names of the same sex ("Marie-Sophie", "José Antonio"). The source's
spellings are kept, accents and all, even where they disagree ("Garcia" and
"García"). The source's Facebook population shows through in places: the
commonest U.S. names are "Jose" and "Garcia".

What this gives (seed 0 to 4): at 100,000 persons of one country, 97,400-97,500
distinct full names in France, the commonest ("Marie Dubois", "Sylvie Martin") held 7-9
times and "Thomas Martin" 2-3 times (real: about 1 in 25,000, so 4 per 100,000). The
U.S. gives 95,900-96,100 distinct names and 12-16 bearers of the commonest (real: James
Smith, about 38,000 Americans, 12 per 100,000; FiveThirtyEight 2014). Germany gives
95,200 and 12-15. Spain, with few surnames, gives 90,100-90,300 and 35-40 "Jose
Garcia"s. At 100,000 demo persons across the seven countries: 98,668 distinct full
names, the commonest ("Jose Garcia") 8 times.

``--hard-names`` (``generate_brand(..., hard_names=True)``) keeps the small hand-written
lists in ``COUNTRIES``: a few dozen names per country, commonest first, drawn exactly as
before realistic names existed. At 100,000 demo persons they give 9,339 distinct full
names, and "Thomas Martin" 119 times among 27,000 French persons (real: about 1). That
makes identity resolution far harder than real life, for stress tests. Bystanders'
social handles (``accounts.py``) still come from these lists in both modes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from socialcrm.synth.strings import S, cat, fold_ascii, sarr


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]
    """(city, postcode prefix)."""
    street_pattern: str
    """Uses {n} (house number), {type} and {name}."""
    street_types: tuple[tuple[str, str], ...]
    """(full form, abbreviated form)."""
    street_names: tuple[str, ...]
    email_domains: tuple[str, ...]
    currency: str
    lang: str


def _t(text: str) -> tuple[str, ...]:
    return tuple(text.split())


COUNTRIES: tuple[Country, ...] = (
    Country(
        "FR",
        0.27,
        _t(
            "Marie Camille Léa Manon Chloé Emma Inès Sarah Julie Laura Claire Hélène Sophie "
            "Élodie Nathalie Isabelle Céline Aurélie Pauline Anaïs Margaux Lucie Zoé Amandine"
        ),
        _t(
            "Thomas Nicolas Julien Maxime Antoine Alexandre Lucas Hugo Louis Pierre Mathieu "
            "Guillaume Romain Sébastien François Jérôme Olivier Benjamin Théo Baptiste Clément "
            "Arnaud Vincent Laurent"
        ),
        _t(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon "
            "Laurent Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard "
            "André Lefèvre Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier "
            "Faure Rousseau Blanc Guérin Muller Henry Roussel Nicolas"
        ),
        (
            ("Paris", "750"),
            ("Lyon", "6900"),
            ("Marseille", "130"),
            ("Toulouse", "310"),
            ("Bordeaux", "330"),
            ("Lille", "590"),
            ("Nantes", "440"),
            ("Grenoble", "380"),
            ("Annecy", "740"),
            ("Strasbourg", "670"),
            ("Rennes", "350"),
            ("Chamonix", "744"),
        ),
        "{n} {type} {name}",
        (
            ("rue", "r."),
            ("avenue", "av."),
            ("boulevard", "bd"),
            ("chemin", "ch."),
            ("place", "pl."),
            ("allée", "all."),
        ),
        (
            "de la République",
            "Victor Hugo",
            "des Lilas",
            "Jean Jaurès",
            "du Moulin",
            "de la Gare",
            "Pasteur",
            "des Écoles",
            "Gambetta",
            "de Verdun",
            "du Lac",
            "des Alpes",
            "Voltaire",
            "de la Paix",
            "des Tilleuls",
        ),
        (
            "orange.fr",
            "free.fr",
            "laposte.net",
            "sfr.fr",
            "wanadoo.fr",
            "gmail.com",
            "hotmail.fr",
            "yahoo.fr",
        ),
        "EUR",
        "fr",
    ),
    Country(
        "DE",
        0.26,
        _t(
            "Anna Katharina Julia Laura Lena Sarah Lisa Johanna Stefanie Sabine Claudia Jana "
            "Franziska Miriam Sophie Hannah Nina Jessica Christina Lea Marie Jutta Birgit Svenja"
        ),
        _t(
            "Alexander Maximilian Johannes Lukas Jonas Felix Tobias Michael Stefan Andreas "
            "Thomas Christian Daniel Florian Sebastian Jan Matthias Markus Jürgen Dirk Benjamin "
            "Niklas Philipp Moritz"
        ),
        _t(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann "
            "Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun "
            "Krüger Hofmann Hartmann Lange Schmitt Werner Krause Meier Lehmann Schmid Köhler "
            "Maier Herrmann König Walter Huber Kaiser Fuchs Peters"
        ),
        (
            ("Hamburg", "20"),
            ("Berlin", "10"),
            ("München", "80"),
            ("Köln", "50"),
            ("Frankfurt am Main", "60"),
            ("Stuttgart", "70"),
            ("Leipzig", "04"),
            ("Freiburg", "79"),
            ("Dresden", "01"),
            ("Hannover", "30"),
            ("Bremen", "28"),
            ("Garmisch-Partenkirchen", "82"),
        ),
        "{name}{type} {n}",
        (
            ("straße", "str."),
            ("weg", "weg"),
            ("allee", "allee"),
            ("platz", "pl."),
            ("ring", "ring"),
        ),
        (
            "Haupt",
            "Bahnhof",
            "Schiller",
            "Goethe",
            "Garten",
            "Linden",
            "Berg",
            "Kirch",
            "Wald",
            "Mozart",
            "Schul",
            "Rosen",
            "Buchen",
            "Eichen",
            "Feld",
        ),
        (
            "gmx.de",
            "web.de",
            "t-online.de",
            "gmail.com",
            "posteo.de",
            "outlook.de",
            "yahoo.de",
            "freenet.de",
        ),
        "EUR",
        "de",
    ),
    Country(
        "GB",
        0.14,
        _t(
            "Olivia Amelia Isla Emily Jessica Sophie Charlotte Lucy Hannah Elizabeth Margaret "
            "Rebecca Victoria Eleanor Grace Holly Chloe Megan Rachel Katie Abigail Harriet"
        ),
        _t(
            "Oliver James William Jack Harry George Thomas Charlie Daniel Samuel Joseph "
            "Benjamin Edward Robert Christopher Matthew Alexander Callum Liam Owen Rhys Jamie"
        ),
        _t(
            "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts "
            "Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke "
            "Patel Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker"
        ),
        (
            ("London", "SW1"),
            ("London", "E1"),
            ("London", "N7"),
            ("Manchester", "M1"),
            ("Bristol", "BS1"),
            ("Leeds", "LS6"),
            ("Edinburgh", "EH3"),
            ("Glasgow", "G12"),
            ("Sheffield", "S10"),
            ("Cardiff", "CF10"),
            ("Kendal", "LA9"),
            ("Inverness", "IV2"),
        ),
        "{n} {name} {type}",
        (
            ("Street", "St"),
            ("Road", "Rd"),
            ("Lane", "Ln"),
            ("Avenue", "Ave"),
            ("Close", "Cl"),
            ("Drive", "Dr"),
        ),
        (
            "High",
            "Station",
            "Church",
            "Victoria",
            "Park",
            "Mill",
            "King",
            "Queen",
            "Manor",
            "Green",
            "Oak",
            "Albert",
            "Windsor",
            "Meadow",
            "Cedar",
        ),
        (
            "btinternet.com",
            "yahoo.co.uk",
            "hotmail.co.uk",
            "gmail.com",
            "outlook.com",
            "sky.com",
            "icloud.com",
            "virginmedia.com",
        ),
        "GBP",
        "en",
    ),
    Country(
        "ES",
        0.10,
        _t(
            "María Lucía Paula Laura Marta Andrea Ana Elena Sara Carmen Cristina Isabel "
            "Raquel Nuria Alba Irene Silvia Beatriz Rocío Guadalupe"
        ),
        _t(
            "Antonio José Manuel Francisco David Javier Daniel Carlos Jesús Alejandro Miguel "
            "Rafael Pablo Sergio Jorge Alberto Álvaro Diego Adrián Iván"
        ),
        _t(
            "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín "
            "Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro "
            "Torres Domínguez Vázquez Ramos Gil Ramírez Serrano Blanco Molina"
        ),
        (
            ("Madrid", "280"),
            ("Barcelona", "080"),
            ("Valencia", "460"),
            ("Sevilla", "410"),
            ("Bilbao", "480"),
            ("Granada", "180"),
            ("Zaragoza", "500"),
            ("Málaga", "290"),
        ),
        "{type} {name}, {n}",
        (("Calle", "C/"), ("Avenida", "Avda."), ("Plaza", "Pza."), ("Paseo", "Pº")),
        (
            "Mayor",
            "de Alcalá",
            "del Sol",
            "de la Paz",
            "Real",
            "San Juan",
            "Nueva",
            "de Cervantes",
            "de la Constitución",
            "del Carmen",
            "Goya",
            "de Colón",
        ),
        ("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.es"),
        "EUR",
        "es",
    ),
    Country(
        "US",
        0.09,
        _t(
            "Jennifer Emily Jessica Ashley Sarah Amanda Elizabeth Megan Lauren Rachel Hannah "
            "Madison Samantha Stephanie Nicole Brittany Kayla Taylor Olivia Abigail"
        ),
        _t(
            "Michael Christopher Matthew Joshua Daniel David Andrew James Justin Robert "
            "Ryan William Joseph Tyler Brandon Jacob Nicholas Anthony Kevin Jonathan"
        ),
        _t(
            "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas "
            "Moore Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen "
            "King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts"
        ),
        (
            ("New York", "100"),
            ("Brooklyn", "112"),
            ("San Francisco", "941"),
            ("Seattle", "981"),
            ("Denver", "802"),
            ("Boulder", "803"),
            ("Portland", "972"),
            ("Chicago", "606"),
            ("Boston", "021"),
            ("Austin", "787"),
            ("Salt Lake City", "841"),
        ),
        "{n} {name} {type}",
        (
            ("Street", "St"),
            ("Avenue", "Ave"),
            ("Boulevard", "Blvd"),
            ("Drive", "Dr"),
            ("Road", "Rd"),
        ),
        (
            "Main",
            "Oak",
            "Maple",
            "Washington",
            "Lake",
            "Pine",
            "Cedar",
            "Elm",
            "Sunset",
            "Park",
            "Hillside",
            "Lincoln",
            "Jefferson",
            "Spring",
            "River",
        ),
        (
            "gmail.com",
            "yahoo.com",
            "outlook.com",
            "icloud.com",
            "aol.com",
            "comcast.net",
            "hotmail.com",
        ),
        "USD",
        "en",
    ),
    Country(
        "IT",
        0.08,
        _t(
            "Giulia Francesca Chiara Sara Martina Valentina Alessia Federica Elisa Silvia "
            "Laura Paola Elena Roberta Sofia Anna Giorgia Beatrice"
        ),
        _t(
            "Marco Alessandro Andrea Luca Matteo Francesco Lorenzo Davide Simone Federico "
            "Giuseppe Giovanni Stefano Roberto Paolo Riccardo Tommaso Fabio"
        ),
        (
            "Rossi",
            "Russo",
            "Ferrari",
            "Esposito",
            "Bianchi",
            "Romano",
            "Colombo",
            "Ricci",
            "Marino",
            "Greco",
            "Bruno",
            "Gallo",
            "Conti",
            "De Luca",
            "Costa",
            "Giordano",
            "Mancini",
            "Rizzo",
            "Lombardi",
            "Moretti",
            "Barbieri",
            "Fontana",
            "Santoro",
            "Mariani",
            "Rinaldi",
            "Caruso",
            "Ferrara",
            "Galli",
        ),
        (
            ("Milano", "201"),
            ("Roma", "001"),
            ("Torino", "101"),
            ("Bologna", "401"),
            ("Firenze", "501"),
            ("Bolzano", "391"),
            ("Trento", "381"),
            ("Napoli", "801"),
        ),
        "{type} {name} {n}",
        (("Via", "V."), ("Viale", "V.le"), ("Piazza", "P.zza"), ("Corso", "C.so")),
        (
            "Roma",
            "Garibaldi",
            "Mazzini",
            "Dante",
            "Verdi",
            "Cavour",
            "Marconi",
            "Vittorio Emanuele",
            "dei Mille",
            "XX Settembre",
            "Matteotti",
            "della Libertà",
        ),
        ("gmail.com", "libero.it", "virgilio.it", "alice.it", "hotmail.it", "tiscali.it"),
        "EUR",
        "en",
    ),
    Country(
        "NL",
        0.06,
        _t(
            "Emma Julia Sanne Lotte Anouk Fleur Lisa Eva Iris Femke Sophie Noor Maud Esther "
            "Anke Marloes Ilse"
        ),
        _t(
            "Daan Bram Sem Lars Thijs Jesse Ruben Sander Joost Pieter Jeroen Bas Tim Niels "
            "Wouter Koen Stijn Maarten"
        ),
        (
            "de Jong",
            "Jansen",
            "de Vries",
            "van den Berg",
            "van Dijk",
            "Bakker",
            "Janssen",
            "Visser",
            "Smit",
            "Meijer",
            "de Boer",
            "Mulder",
            "de Groot",
            "Bos",
            "Vos",
            "Peters",
            "Hendriks",
            "van Leeuwen",
            "Dekker",
            "Brouwer",
        ),
        (
            ("Amsterdam", "10"),
            ("Rotterdam", "30"),
            ("Utrecht", "35"),
            ("Den Haag", "25"),
            ("Eindhoven", "56"),
            ("Groningen", "97"),
            ("Nijmegen", "65"),
        ),
        "{name}{type} {n}",
        (("straat", "str."), ("weg", "weg"), ("laan", "ln."), ("gracht", "gr."), ("plein", "pl.")),
        (
            "Kerk",
            "Dorp",
            "School",
            "Molen",
            "Stations",
            "Linden",
            "Prinsen",
            "Heren",
            "Beuken",
            "Wilhelmina",
            "Juliana",
            "Oranje",
        ),
        ("gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.nl", "outlook.com", "xs4all.nl"),
        "EUR",
        "en",
    ),
)
"""Countries the demo brand sells in, with the share of persons living there."""

GLOBAL_EMAIL_DOMAINS = (
    "gmail.com",
    "outlook.com",
    "icloud.com",
    "protonmail.com",
    "yahoo.com",
    "hotmail.com",
)
WORK_EMAIL_DOMAINS = (
    "acme-logistics.com",
    "stadtwerke-nord.de",
    "brightlabs.io",
    "hopital-sud.fr",
    "unimail.edu",
    "northwind.co.uk",
    "baufirma-kraus.de",
    "agence-lumiere.fr",
    "tecnova.es",
    "studio-verde.it",
)

NICKNAMES: dict[str, str] = {
    "Alexander": "Alex",
    "Alexandre": "Alex",
    "Alejandro": "Álex",
    "Alessandro": "Ale",
    "Katharina": "Kathi",
    "Stefanie": "Steffi",
    "Franziska": "Franzi",
    "Johannes": "Hannes",
    "Maximilian": "Max",
    "Sebastian": "Basti",
    "Christian": "Chris",
    "Matthias": "Matze",
    "Michael": "Mike",
    "Christopher": "Chris",
    "Matthew": "Matt",
    "Nicholas": "Nick",
    "Jonathan": "Jon",
    "Elizabeth": "Liz",
    "Margaret": "Maggie",
    "Rebecca": "Becky",
    "Victoria": "Vicky",
    "Abigail": "Abby",
    "Jennifer": "Jen",
    "Jessica": "Jess",
    "Samantha": "Sam",
    "Stephanie": "Steph",
    "William": "Will",
    "Robert": "Rob",
    "Edward": "Ed",
    "Benjamin": "Ben",
    "Samuel": "Sam",
    "Thomas": "Tom",
    "Daniel": "Dan",
    "Joseph": "Joe",
    "Anthony": "Tony",
    "Joshua": "Josh",
    "Andrew": "Andy",
    "Nicolas": "Nico",
    "Guillaume": "Guigui",
    "Mathieu": "Matt",
    "Sébastien": "Seb",
    "Francisco": "Paco",
    "José": "Pepe",
    "Guadalupe": "Lupe",
    "Francesca": "Fran",
    "Giuseppe": "Beppe",
    "Federico": "Fede",
    "Valentina": "Vale",
    "Tommaso": "Tommy",
    "Maarten": "Maart",
    "Pieter": "Piet",
    "Alexandra": "Alex",
    "Christina": "Tina",
    "Isabelle": "Isa",
    "Isabel": "Isa",
    "Hannah": "Hanna",
    "Charlotte": "Lottie",
    "Eleanor": "Ellie",
    "Harriet": "Hattie",
    "Antoine": "Toine",
    "Baptiste": "Bapt",
    # Common in the realistic lists, absent from the hand-written ones (so --hard-names
    # gives the same records as before).
    "Christophe": "Chris",
    "Frédéric": "Fred",
    "Frederic": "Fred",
    "Stéphane": "Steph",
    "Stephane": "Steph",
    "Philippe": "Phil",
    "Patrick": "Pat",
    "Dominique": "Dom",
    "Jean-Pierre": "JP",
    "Wolfgang": "Wolf",
    "Gerhard": "Gerd",
    "Bernhard": "Bernd",
    "Nikolaus": "Klaus",
    "Margarethe": "Grete",
    "Richard": "Rick",
    "Steven": "Steve",
    "Stephen": "Steve",
    "John": "Johnny",
    "Peter": "Pete",
    "Susan": "Sue",
    "Patricia": "Pat",
    "Kimberly": "Kim",
    "Katherine": "Kate",
    "Jose": "Pepe",
    "Ignacio": "Nacho",
    "Dolores": "Lola",
    "Mercedes": "Merche",
    "Vincenzo": "Enzo",
    "Salvatore": "Totò",
    "Massimo": "Max",
    "Hendrik": "Henk",
    "Cornelis": "Kees",
    "Willem": "Wim",
}

OCCUPATIONS = (
    "teacher",
    "nurse",
    "software engineer",
    "student",
    "designer",
    "accountant",
    "physiotherapist",
    "sales manager",
    "retired",
    "electrician",
    "architect",
    "journalist",
    "chef",
    "consultant",
    "firefighter",
    "doctor",
    "photographer",
    "mechanic",
    "lawyer",
    "marketing manager",
    "mountain guide",
    "researcher",
    "civil servant",
    "entrepreneur",
)

COMMUNITY_INTERESTS: dict[str, tuple[str, ...]] = {
    "trail_running": ("running", "trail", "marathon"),
    "hiking": ("hiking", "trekking", "nature"),
    "cycling": ("cycling", "bikepacking", "mtb"),
    "climbing": ("climbing", "bouldering", "mountaineering"),
    "outdoor_parents": ("family", "kids", "camping"),
    "tech_gadgets": ("gadgets", "gps", "tech"),
    "streetwear": ("fashion", "streetwear", "design"),
    "vanlife": ("travel", "vanlife", "camping"),
    "sustainability": ("sustainability", "zero_waste", "repair"),
    "ski_snow": ("skiing", "snowboarding", "winter"),
    "commuters": ("commuting", "urban", "cycling"),
    "photography": ("photography", "travel", "nature"),
}

HANDLE_WORDS = (
    "trail",
    "peak",
    "fox",
    "wolf",
    "summit",
    "north",
    "wild",
    "moss",
    "pine",
    "storm",
    "river",
    "alpine",
    "coffee",
    "urban",
    "nomad",
    "lynx",
    "fjell",
    "kite",
    "ember",
    "raven",
    "orbit",
    "pixel",
    "tide",
    "cedar",
    "stone",
    "sky",
    "owl",
    "otter",
    "dune",
    "frost",
)
"""Words for handles and email local parts that are *not* derived from the name."""

MASTODON_INSTANCES = (
    "mastodon.social",
    "mstdn.social",
    "chaos.social",
    "fosstodon.org",
    "mastodon.online",
    "social.tchncs.de",
    "piaille.fr",
    "mastodon.green",
)


# -- realistic name frequencies ---------------------------------------------------------------
NAME_FREQUENCIES = "name_frequencies.json"
_VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ")
_UNITS = ("sch", "ch", "ck", "ph", "th", "sh", "gh", "gn")
"""Letter groups that spell one consonant and stay together when a name is cut."""
_PARTICLES = frozenset(
    ("de", "da", "do", "dos", "das", "du", "des", "le", "la", "les", "di", "del", "della",
     "dello", "dei", "degli", "van", "von", "der", "den", "ten", "ter", "het", "'t", "vd",
     "in", "op", "te", "el", "al", "ben", "lo", "dela", "d'")
)  # fmt: skip
_COMPOUND_SEP = {"ES": " ", "IT": " "}
"""How two first names join (default "-"): "José Antonio", "Gian Marco", "Marie-Claire"."""
_COMPOUND_FROM = 200
"""Made-up first names join two of the sex's 200 commonest one-word names."""
_MIX = np.uint64(0x9E3779B97F4A7C15)
_STEP = 2_147_483_647
"""A prime: ``t * _STEP mod N`` visits every index below N once (N < _STEP)."""


def _split(word: str) -> tuple[str, str] | None:
    """A name cut in two where a syllable starts, or None: ``Bernard`` -> (Ber, nard),
    ``Fischer`` -> (Fi, scher), ``Rodríguez`` -> (Ro, dríguez)."""
    low = word.lower()
    if not word.isalpha() or len(low) != len(word):
        return None
    n, i = len(low), 0
    while i < n and low[i] not in _VOWELS:
        i += 1
    while i < n and low[i] in _VOWELS:
        i += 1
    j = i
    while j < n and low[j] not in _VOWELS:
        j += 1
    if i == 0 or j >= n or j == i:
        return None
    units, k = [], i
    while k < j:
        unit = next((u for u in _UNITS if low.startswith(u, k) and k + len(u) <= j), low[k])
        units.append(unit)
        k += len(unit)
    if len(units) == 1:
        cut = i
    elif units[-1] in ("r", "l") and len(units[-2]) == 1 and units[-2] not in "rl":
        cut = j - 2  # "dr", "pl": the next syllable starts with both
    else:
        cut = j - len(units[-1])
    start, end = word[:cut], word[cut:]
    if len(start) < 2 or len(end) < 2:
        return None
    return start, end


def _hash01(t: np.ndarray, salt: int) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per index (the same index, the same number)."""
    x = (t.astype(np.uint64) + np.uint64(salt)) * _MIX
    x ^= x >> np.uint64(31)
    x *= _MIX
    x ^= x >> np.uint64(29)
    out: np.ndarray = (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return out


def _has_accent(values: list[str]) -> np.ndarray:
    return np.array([fold_ascii(v) != v for v in values], dtype=bool)


class _MadeUpSurnames:
    """One made-up surname per rank beyond a country's list: the start of one listed
    surname and the end of another, sometimes after a particle ("Le", "van der")."""

    def __init__(self, names: list[str], weights: np.ndarray) -> None:
        starts: dict[str, None] = {}
        ends: dict[str, None] = {}
        particles: dict[str, float] = {}
        plain = 0.0
        for name, w in zip(names, weights, strict=True):
            words = name.split(" ")
            if len(words) > 1 and all(x.lower() in _PARTICLES for x in words[:-1]):
                lead = " ".join(words[:-1])
                particles[lead] = particles.get(lead, 0.0) + float(w)
            elif len(words) == 1:
                plain += float(w)
            piece = _split(words[-1])
            if piece:
                starts.setdefault(piece[0])
                ends.setdefault(piece[1])
        self.starts, self.ends = sarr(list(starts)), sarr(list(ends))
        self.start_accent = _has_accent(list(starts))
        self.end_accent = _has_accent(list(ends))
        self.ends_folded = sarr([fold_ascii(e) for e in ends])
        mass = sum(particles.values())
        self.particle_share = mass / (mass + plain) if mass else 0.0
        self.particles = sarr(list(particles))
        self.particle_cum = np.cumsum(list(particles.values())) / mass if mass else np.ones(0)
        self.listed = frozenset(names)

    @property
    def size(self) -> int:
        return len(self.starts) * len(self.ends)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        k_end = len(self.ends)
        y = ((t % self.size) * _STEP + 12_345) % self.size
        i, j = y // k_end, y % k_end
        out = self._join(i, j)
        clash = pd.Series(out, dtype=object).isin(self.listed).to_numpy()
        if clash.any():  # a start and end of one listed name: take the next end
            out[clash] = self._join(i[clash], (j[clash] + 1) % k_end)
        if self.particle_share:
            lead = _hash01(t, 1) < self.particle_share
            which = np.searchsorted(self.particle_cum, _hash01(t[lead], 2), side="right")
            which = np.minimum(which, len(self.particles) - 1)
            out[lead] = cat(self.particles[which], " ", out[lead])
        return out

    def _join(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        # One written accent per name: "Sán" + "cía" makes "Sáncia".
        end = np.where(self.start_accent[i] & self.end_accent[j], self.ends_folded[j], self.ends[j])
        out: np.ndarray = cat(self.starts[i], end.astype(S))
        return out


class _CompoundFirstNames:
    """One made-up first name per rank beyond a list: two common names of the sex."""

    def __init__(self, names: list[str], sep: str) -> None:
        single = [x for x in names if x.isalpha()]  # not "José Luis" or "Anne-Marie"
        self.names = sarr(single[:_COMPOUND_FROM])
        self.sep = sep

    @property
    def size(self) -> int:
        k = len(self.names)
        return k * (k - 1)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        k = len(self.names)
        y = ((t % self.size) * _STEP + 6_789) % self.size
        i, j = y // (k - 1), y % (k - 1)
        j = j + (j >= i)
        out: np.ndarray = cat(self.names[i], self.sep, self.names[j])
        return out


@dataclass(frozen=True)
class NameList:
    """One country's surnames, or its first names of one sex, with their frequencies."""

    names: np.ndarray
    """The listed names, commonest first."""
    cum: np.ndarray
    """Cumulative share of people bearing each listed name (ends below 1)."""
    q: float
    distinct: int
    """Names in all: the listed ones and made-up ones for the ranks beyond."""
    made_up: _MadeUpSurnames | _CompoundFirstNames

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` names drawn by frequency; ranks beyond the list get made-up names."""
        u = rng.random(n)
        idx = np.searchsorted(self.cum, u, side="right")
        listed = idx < len(self.names)
        out = np.empty(n, dtype=S)
        out[listed] = self.names[idx[listed]]
        rest = ~listed
        if rest.any():
            m = len(self.names)
            head = self.cum[-1]
            w = (u[rest] - head) / (1.0 - head)
            # The law p(r) ~ 1 / (r + q), inverted over ranks m+1..distinct.
            lo, hi = m + 0.5 + self.q, self.distinct + 0.5 + self.q
            rank = np.rint(lo * (hi / lo) ** w - self.q).astype(np.int64)
            rank = np.clip(rank, m + 1, self.distinct)
            out[rest] = self.made_up(rank - m - 1)
        return out


def _name_list(spec: dict[str, object], made_up: str) -> NameList:
    names = [str(x) for x in spec["names"]]  # type: ignore[attr-defined]
    q = float(spec["q"])  # type: ignore[arg-type]
    scale = float(spec["scale"])  # type: ignore[arg-type]
    weights = scale / (np.arange(1, len(names) + 1) + q)
    maker: _MadeUpSurnames | _CompoundFirstNames = (
        _MadeUpSurnames(names, weights)
        if made_up == "surname"
        else _CompoundFirstNames(names, made_up)
    )
    return NameList(
        names=sarr(names),
        cum=np.cumsum(weights),
        q=q,
        distinct=int(spec["distinct"]),  # type: ignore[call-overload]
        made_up=maker,
    )


@cache
def name_lists() -> dict[str, dict[str, NameList]]:
    """Country code -> {"surnames", "female", "male"} -> its ``NameList``."""
    raw = json.loads(
        resources.files("socialcrm.synth").joinpath(NAME_FREQUENCIES).read_text("utf-8")
    )
    out: dict[str, dict[str, NameList]] = {}
    for code, lists in raw["countries"].items():
        sep = _COMPOUND_SEP.get(code, "-")
        out[code] = {
            "surnames": _name_list(lists["surnames"], "surname"),
            "female": _name_list(lists["female"], sep),
            "male": _name_list(lists["male"], sep),
        }
    return out


def realistic_names(
    rng: np.random.Generator, country: np.ndarray, female: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) names by each country's real frequencies; ``country`` indexes
    ``COUNTRIES`` and ``female`` picks the first name's sex."""
    lists = name_lists()
    n = len(country)
    first = np.empty(n, dtype=S)
    last = np.empty(n, dtype=S)
    for ci, c in enumerate(COUNTRIES):
        in_c = country == ci
        for mask, key, target in (
            (in_c & female, "female", first),
            (in_c & ~female, "male", first),
            (in_c, "surnames", last),
        ):
            k = int(mask.sum())
            if k:
                target[mask] = lists[c.code][key].draw(rng, k)
    return first, last
