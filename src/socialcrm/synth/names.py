"""Small, hand-written name, street and place lists per country.

Plain lists instead of Faker: the output must be byte-identical per seed and fast, and a
few dozen names per country already give the realistic collisions (two Marie Martins in
Lyon) that make identity resolution hard.
"""

from __future__ import annotations

from dataclasses import dataclass


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
