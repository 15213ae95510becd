"""What people write about the brand: clauses per aspect and templates per class.

A post is a template for its (intent, sentiment) with slots filled by aspect clauses
and names. The same words appear across classes on purpose - "never" praises ("never had
to worry about the battery") and condemns ("never again"), question marks end
complaints ("is it just me or...?") and suggestions ("any plans for...?"), sarcasm
wraps a complaint in praise words - so no single keyword gives a class away.

Slots: ``{pos}``/``{neg}``/``{ask}``/``{neu}`` an aspect clause of that polarity
(``{pos2}``/``{neg2}`` for a second aspect in mixed posts); inside clauses ``{p}`` is the
thing talked about and ``{b}`` its maker; ``{c}`` the other company, ``{e}`` an emoji,
``{t}`` a time, ``{place}`` a place, ``{idea}`` a suggestion, ``{cp}``/``{cn}`` a closing
line. A template that starts with ``~`` is sarcastic.
"""

from __future__ import annotations

CLAUSES: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "battery": {
            "pos": (
                "the battery on my {p} lasted a full three-day trek",
                "{p} still had 40% left after four night runs",
                "charged my {p} once last week and it's still going",
                "{p} runs for ages on one charge",
                "I never once had to worry about the battery on my {p}",
                "{p} went through a whole winter weekend without a recharge",
                "battery life on the {p} is honestly not bad at all",
            ),
            "neg": (
                "my {p} is flat after one evening",
                "{p} won't hold a charge below zero",
                "{p} drains overnight even when it's switched off",
                "the battery on the {p} went from 80% to nothing in an hour",
                "the battery life of my {p} is nowhere near what was promised",
                "{p} dies halfway through every long run",
                "my {p} needs charging every single day now",
            ),
            "ask": (
                "how long does the battery of {p} really last in the cold",
                "can you replace the battery on {p} yourself",
                "is it normal that {p} takes six hours to charge",
                "does {p} charge over USB-C",
                "what's the real battery life of {p} with GPS on",
            ),
            "neu": (
                "charging {p} before tomorrow's hike",
                "{p} at 50% battery, let's see how far it gets",
            ),
        },
        "fit": {
            "pos": (
                "{p} fits like it was made for me",
                "sizing on {p} is spot on",
                "finally a {p} that fits broad shoulders",
                "{p} is true to size, ordered my usual and it's perfect",
                "no sizing drama with {p} this time",
            ),
            "neg": (
                "{p} runs at least one size small",
                "the sleeves on {p} are weirdly short",
                "{p} is cut for someone twice my height",
                "I ordered my usual size in {p} and can't zip it up",
                "{p} pinches at the toes after ten minutes",
            ),
            "ask": (
                "does {p} run small or true to size",
                "should I size up in {p} for layering",
                "is there a women's cut of {p}",
                "how's the fit of {p} for wide feet",
            ),
            "neu": ("trying on {p} in two sizes", "swapping {p} for the next size up"),
        },
        "waterproofing": {
            "pos": (
                "{p} kept me bone dry through a full day of rain",
                "stood under a waterfall for a photo and {p} didn't let a drop in",
                "{p} handled a proper Scottish downpour",
                "everything stayed dry in {p} after a river crossing",
            ),
            "neg": (
                "{p} soaked through within an hour of drizzle",
                "so much for waterproof, {p} leaks at the seams",
                "my {p} wetted out on the first rainy hike",
                "water gets into {p} through the zip every time",
            ),
            "ask": (
                "is {p} fully waterproof or just water resistant",
                "how do you reproof {p}",
                "would {p} survive a week in the Highlands",
            ),
            "neu": ("reproofing {p} before the autumn",),
        },
        "warmth": {
            "pos": (
                "slept like a baby at -8 in the {p}",
                "{p} is ridiculously warm for how light it is",
                "{p} kept my coffee hot all day",
                "toasty in my {p} on a freezing summit",
            ),
            "neg": (
                "I froze all night in the {p} even though it's rated to -10",
                "{p} is barely warmer than a t-shirt",
                "the coffee in my {p} was cold by lunchtime",
                "{p} isn't warm enough for anything below 5 degrees",
            ),
            "ask": (
                "what's the real comfort temperature of {p}",
                "is {p} warm enough for winter camping",
            ),
            "neu": ("packing {p} for a cold night out",),
        },
        "comfort": {
            "pos": (
                "{p} is so comfortable I forget I'm wearing it",
                "did 30k in the {p} without a single blister",
                "{p} carries a full load without killing my shoulders",
                "wore {p} all day and my back didn't complain once",
            ),
            "neg": (
                "{p} gave me blisters on the first outing",
                "the straps on {p} dig into my shoulders after an hour",
                "{p} is stiff and uncomfortable no matter how I adjust it",
                "my knees hurt after every run in {p}",
            ),
            "ask": ("is {p} comfy enough for long days", "do you need to break in {p}"),
            "neu": ("breaking in {p} on short walks first",),
        },
        "durability": {
            "pos": (
                "three years of abuse and {p} still looks new",
                "{p} survived a fall down a scree slope without a scratch",
                "the zips on {p} are still perfect after two seasons",
                "{p} is built like a tank",
            ),
            "neg": (
                "the zip on my {p} broke after two weeks",
                "{p} started falling apart after a month",
                "the sole of {p} is peeling off already",
                "the stitching on {p} came undone on the second trip",
                "{p} cracked the first time I dropped it",
            ),
            "ask": (
                "how does {p} hold up after a few seasons",
                "is the zip on {p} covered by the warranty",
            ),
            "neu": ("patching up {p} for another season",),
        },
        "app": {
            "pos": (
                "the {p} app syncs my routes instantly",
                "GPS on {p} is spot on even deep in the forest",
                "the latest update made {p} so much better",
            ),
            "neg": (
                "the {p} app crashes every time I try to sync",
                "GPS on {p} puts me in the lake half the time",
                "since the last update {p} keeps rebooting",
                "{p} lost my entire route from Sunday",
            ),
            "ask": (
                "can {p} export GPX files",
                "does {p} work with Strava",
                "how do I roll back the update on {p}",
            ),
            "neu": ("updating {p} tonight",),
        },
        "design": {
            "pos": (
                "{p} looks even better in real life",
                "the new colours of {p} are gorgeous",
                "got three compliments on {p} today",
                "{p} is clean and simple and the pockets are exactly where they should be",
            ),
            "neg": (
                "{p} looks nothing like the photos",
                "the colour of {p} faded after two washes",
                "whoever designed the pockets on {p} never wore a backpack",
                "{p} is just ugly in person, sorry",
            ),
            "ask": ("does {p} come in other colours", "is {p} closer to green or grey"),
            "neu": ("can't decide between two colours of {p}",),
        },
        "price": {
            "pos": (
                "{p} is worth every cent",
                "for what it costs {p} is a steal",
                "got {p} on sale and it's a bargain",
                "{p} costs less than the big names and does more",
            ),
            "neg": (
                "{p} is way overpriced for what you get",
                "{p} costs twice as much as last year",
                "I can't justify the price of {p} anymore",
                "I paid full price for {p} and it went on sale a week later",
            ),
            "ask": (
                "is {p} ever on sale",
                "does {b} do student discounts",
                "is {p} worth the price",
            ),
            "neu": ("waiting for {p} to go on sale",),
        },
        "delivery": {
            "pos": (
                "{b} delivered in two days",
                "my order from {b} arrived a day early",
                "{b} shipping was fast and the packaging was plastic-free",
                "ordered from {b} on Sunday night and I'm wearing it on Tuesday",
            ),
            "neg": (
                "my {b} order has been 'in transit' for two weeks",
                "{b} sent the wrong size twice",
                "I'm still waiting on my {b} order from last month",
                "my {b} parcel turned up soaked and torn",
                "{b} charged me for shipping and it still came late",
            ),
            "ask": (
                "how long does {b} take to ship to Spain",
                "does {b} ship to Norway",
                "can I change the delivery address on a {b} order",
            ),
            "neu": ("waiting for the {b} parcel", "tracking says my {b} order is out today"),
        },
        "customer_service": {
            "pos": (
                "{b} support sorted my problem in one email",
                "the {b} team replaced my broken zip, no questions asked",
                "{b} customer service actually listens",
                "someone at {b} called me back within the hour",
            ),
            "neg": (
                "{b} support has ignored my emails for ten days",
                "I've been on hold with {b} for 45 minutes",
                "{b} customer service keeps sending me copy-paste answers",
                "{b} closed my ticket without fixing anything",
            ),
            "ask": ("what's the best way to reach {b} support", "does {b} have a phone line"),
            "neu": ("emailing {b} support about my order",),
        },
        "returns": {
            "pos": (
                "returning to {b} was painless, refund in three days",
                "{b} took back the wrong size without any fuss",
            ),
            "neg": (
                "{b} still hasn't refunded my return from last month",
                "{b} wants me to pay return shipping for their own mistake",
                "the return label from {b} doesn't even work",
            ),
            "ask": ("how long do I have to return something to {b}", "are returns free at {b}"),
            "neu": ("sending a jacket back to {b}",),
        },
        "sustainability": {
            "pos": (
                "{b} repairs gear instead of replacing it",
                "{b} uses recycled fabrics and you can tell",
                "{b} finally went plastic-free with their packaging",
            ),
            "neg": (
                "{b} talks green but ships every item in three plastic bags",
                "{b} is greenwashing at its finest",
                "{b} still uses PFCs in its coatings",
            ),
            "ask": ("are {b} jackets PFC-free", "does {b} have a repair program"),
            "neu": ("reading the {b} sustainability report",),
        },
        "website": {
            "pos": ("the new {b} website is actually fast", "{b} checkout took thirty seconds"),
            "neg": (
                "the {b} website crashed three times at checkout",
                "the {b} app keeps logging me out",
                "I couldn't apply my voucher on the {b} site",
            ),
            "ask": (
                "is the {b} site down for anyone else",
                "where do I find my order history on the {b} site",
            ),
            "neu": ("browsing the {b} site for a new jacket",),
        },
        "quality": {
            "pos": (
                "{p} is really well made",
                "I can't fault {p}",
                "{p} is not bad at all",
                "{p} does exactly what it should",
            ),
            "neg": (
                "{p} feels cheap",
                "{p} is nothing special for the price",
                "{p} is a real letdown",
                "{p} is not worth it",
            ),
            "ask": ("is {p} any good", "has anyone tried {p}"),
            "neu": ("looking at {p}",),
        },
    },
    "de": {
        "quality": {
            "pos": (
                "{p} ist echt gut verarbeitet",
                "an {p} gibt es nichts auszusetzen",
                "{p} ist gar nicht schlecht",
                "{p} macht genau, was es soll",
            ),
            "neg": (
                "{p} fühlt sich billig an",
                "{p} ist sein Geld nicht wert",
                "{p} ist eine echte Enttäuschung",
            ),
            "ask": ("taugt {p} was", "hat jemand Erfahrung mit {p}"),
            "neu": ("schaue mir gerade {p} an",),
        },
        "delivery": {
            "pos": (
                "{b} hat in zwei Tagen geliefert",
                "meine Bestellung von {b} kam einen Tag früher",
            ),
            "neg": (
                "meine {b} Bestellung ist seit zwei Wochen unterwegs",
                "{b} hat zweimal die falsche Größe geschickt",
            ),
            "ask": ("wie lange liefert {b} nach Österreich", "versendet {b} auch in die Schweiz"),
            "neu": ("warte auf das Paket von {b}",),
        },
        "fit": {
            "pos": ("{p} sitzt wie angegossen", "die Größe von {p} passt perfekt"),
            "neg": (
                "{p} fällt mindestens eine Nummer zu klein aus",
                "die Ärmel von {p} sind viel zu kurz",
            ),
            "ask": ("fällt {p} klein aus", "sollte ich {p} eine Nummer größer nehmen"),
            "neu": ("probiere {p} in zwei Größen",),
        },
        "battery": {
            "pos": (
                "der Akku von {p} hält ewig",
                "{p} hat das ganze Wochenende ohne Laden durchgehalten",
            ),
            "neg": (
                "der Akku von {p} ist nach einem Abend leer",
                "{p} hält bei Kälte keine Ladung",
            ),
            "ask": (
                "wie lange hält der Akku von {p} wirklich",
                "kann man den Akku von {p} tauschen",
            ),
            "neu": ("lade {p} für morgen",),
        },
        "price": {
            "pos": ("{p} ist jeden Cent wert", "{p} im Angebot ist ein Schnäppchen"),
            "neg": ("{p} ist völlig überteuert", "{p} kostet doppelt so viel wie letztes Jahr"),
            "ask": ("gibt es {p} bald im Angebot", "lohnt sich {p} für den Preis"),
            "neu": ("warte, bis {p} günstiger wird",),
        },
        "customer_service": {
            "pos": (
                "der {b} Support hat mein Problem mit einer Mail gelöst",
                "{b} hat meinen kaputten Reißverschluss sofort ersetzt",
            ),
            "neg": (
                "der {b} Kundenservice ignoriert seit zehn Tagen meine Mails",
                "{b} hat mein Ticket einfach geschlossen",
            ),
            "ask": ("wie erreicht man den {b} Support am besten",),
            "neu": ("schreibe gerade dem {b} Support",),
        },
    },
    "fr": {
        "quality": {
            "pos": (
                "{p} est vraiment bien fini",
                "rien à redire sur {p}",
                "{p} n'est pas mal du tout",
                "{p} fait exactement ce qu'on attend",
            ),
            "neg": (
                "{p} fait bas de gamme",
                "{p} ne vaut pas son prix",
                "{p} est une vraie déception",
            ),
            "ask": ("{p} vaut le coup", "quelqu'un a testé {p}"),
            "neu": ("je regarde {p}",),
        },
        "delivery": {
            "pos": ("{b} a livré en deux jours", "ma commande {b} est arrivée en avance"),
            "neg": (
                "ma commande {b} est bloquée depuis deux semaines",
                "{b} m'a envoyé la mauvaise taille deux fois",
            ),
            "ask": ("{b} livre en combien de temps en Belgique", "{b} livre en Suisse"),
            "neu": ("j'attends le colis {b}",),
        },
        "fit": {
            "pos": ("{p} tombe parfaitement", "la taille de {p} est parfaite"),
            "neg": ("{p} taille vraiment petit", "les manches de {p} sont trop courtes"),
            "ask": ("{p} taille petit ou normal", "faut-il prendre une taille au-dessus pour {p}"),
            "neu": ("j'essaie {p} en deux tailles",),
        },
        "battery": {
            "pos": (
                "la batterie de {p} tient des jours",
                "{p} a tenu tout le week-end sans recharge",
            ),
            "neg": (
                "la batterie de {p} est vide après une soirée",
                "{p} ne tient pas la charge dans le froid",
            ),
            "ask": ("combien de temps tient la batterie de {p}",),
            "neu": ("je recharge {p} pour demain",),
        },
        "price": {
            "pos": ("{p} vaut chaque centime", "{p} en promo, c'est une affaire"),
            "neg": ("{p} est beaucoup trop cher", "{p} coûte deux fois plus que l'an dernier"),
            "ask": ("{p} sera bientôt en promo", "{p} vaut son prix"),
            "neu": ("j'attends que {p} baisse",),
        },
        "customer_service": {
            "pos": (
                "le service client {b} a réglé mon problème en un mail",
                "{b} a remplacé ma fermeture éclair sans discuter",
            ),
            "neg": (
                "le service client {b} ignore mes mails depuis dix jours",
                "{b} a fermé mon ticket sans rien régler",
            ),
            "ask": ("comment joindre le service client {b}",),
            "neu": ("j'écris au service client {b}",),
        },
    },
    "es": {
        "quality": {
            "pos": (
                "{p} está muy bien hecho",
                "no le pongo ni una pega a {p}",
                "{p} no está nada mal",
                "{p} hace justo lo que promete",
            ),
            "neg": ("{p} parece barato", "{p} no vale lo que cuesta", "{p} es una decepción total"),
            "ask": ("merece la pena {p}", "alguien ha probado {p}"),
            "neu": ("mirando {p}",),
        },
        "delivery": {
            "pos": ("{b} entregó en dos días", "mi pedido de {b} llegó antes de tiempo"),
            "neg": (
                "mi pedido de {b} lleva dos semanas en tránsito",
                "{b} me mandó la talla equivocada dos veces",
            ),
            "ask": ("cuánto tarda {b} en enviar a Canarias", "{b} envía a Portugal"),
            "neu": ("esperando el paquete de {b}",),
        },
        "fit": {
            "pos": ("{p} me queda perfecto", "la talla de {p} es exacta"),
            "neg": ("{p} talla muy pequeño", "las mangas de {p} son demasiado cortas"),
            "ask": ("{p} talla pequeño", "pido una talla más de {p}"),
            "neu": ("probando {p} en dos tallas",),
        },
        "battery": {
            "pos": ("la batería de {p} dura días", "{p} aguantó todo el finde sin cargar"),
            "neg": ("la batería de {p} se agota en una tarde", "{p} no aguanta la carga con frío"),
            "ask": ("cuánto dura de verdad la batería de {p}",),
            "neu": ("cargando {p} para mañana",),
        },
        "price": {
            "pos": ("{p} vale cada euro", "{p} en rebajas es una ganga"),
            "neg": ("{p} es carísimo para lo que es", "{p} cuesta el doble que el año pasado"),
            "ask": ("{p} estará pronto en rebajas", "{p} vale lo que cuesta"),
            "neu": ("esperando a que {p} baje de precio",),
        },
        "customer_service": {
            "pos": (
                "el soporte de {b} me lo solucionó en un correo",
                "{b} me cambió la cremallera rota sin preguntas",
            ),
            "neg": (
                "el servicio al cliente de {b} ignora mis correos desde hace diez días",
                "{b} cerró mi incidencia sin solucionar nada",
            ),
            "ask": ("cómo contacto con el soporte de {b}",),
            "neu": ("escribiendo al soporte de {b}",),
        },
    },
}

TEMPLATES: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    "en": {
        ("praise", "positive"): (
            "{pos} {e}",
            "{pos}.",
            "Honestly, {pos}. {e}",
            "{t}: {pos}.",
            "Two months in and {pos}.",
            "Not gonna lie, {pos} {e}",
            "Can confirm: {pos}.",
            "{pos}. {cp}",
            "Didn't expect much but {pos} {e}",
            "{pos}. {c} could learn a thing or two.",
            "{neg2}, but {pos}. Still recommend.",
            "Okay {b}, {pos}. Respect. {e}",
            "Update: {pos}.",
            "{pos} - exactly what I needed for {place}.",
            "Took it to {place} and {pos} {e}",
            "{pos}. Switched from {c} last year, no regrets.",
        ),
        ("complaint", "negative"): (
            "{neg} {e}",
            "{neg}.",
            "{neg}. {cn}",
            "{t} and {neg}.",
            "Seriously {b}? {neg}.",
            "{neg}. Not impressed.",
            "{neg}... not what I paid for.",
            "Dear {b}, {neg}. Please fix this.",
            "Is it just me or {neg}?",
            "Why is it that {neg}?",
            "{neg}. Going back to {c}.",
            "{pos2}, but {neg}. {cn}",
            "Took it to {place} and {neg} {e}",
            "~Great, {neg}. Love that for me {e}",
            "~Nothing says premium like when {neg} {e}",
            "~Wow, {neg}. Truly top quality 👏",
            "~10/10 would recommend if you enjoy the fact that {neg}",
            "~Thanks {b}, {neg}. Best purchase ever {e}",
        ),
        ("question", "neutral"): (
            "{ask}?",
            "Quick question: {ask}?",
            "Anyone know {ask}?",
            "Thinking about getting {p} - {ask}?",
            "{ask}? Asking before {place}.",
            "Hey {b}, {ask}?",
            "Does anyone here know {ask}?",
            "{p} owners: {ask}?",
            "{ask}? {e}",
        ),
        ("question", "negative"): (
            "{neg} - {ask}?",
            "{neg}. Anyone else? Also, {ask}?",
            "Hey {b}, {neg}. {ask}?",
        ),
        ("question", "positive"): (
            "{pos} {e} Quick one though: {ask}?",
            "{pos}! {ask}?",
            "So far {pos}. {ask}?",
        ),
        ("suggestion", "neutral"): (
            "{b}, please make {idea}.",
            "Would love {idea}.",
            "Idea for {b}: {idea}.",
            "If {b} made {idea} I'd buy it tomorrow.",
            "Hey {b}, any plans for {idea}?",
            "{b} should really do {idea}.",
            "Wish list for {b}: {idea}.",
            "Dear {b}, {idea} please {e}",
        ),
        ("suggestion", "positive"): (
            "{pos}. Only thing missing is {idea} {e}",
            "Big fan of {p}. Next step: {idea}?",
            "{pos} - now give us {idea}!",
        ),
        ("suggestion", "negative"): (
            "{neg}. How about {idea}?",
            "Come on {b}. {neg}. We need {idea}.",
            "{neg}. {idea} would fix that.",
        ),
        ("other", "neutral"): (
            "{neu}",
            "{neu} {e}",
            "Took {p} to {place} today",
            "{p} and a thermos, that's the plan for the weekend",
            "New {b} catalogue arrived",
            "Unboxing {p} later",
            "Off to {place}. {p} is coming along.",
            "Same {p} as last year, different mountain",
            "{t}, {place}, {p}. That's it.",
        ),
        ("other", "positive"): (
            "Sunset run done {e}",
            "{place} was magical today. {p} came along {e}",
            "Best weekend in ages {e}",
        ),
        ("other", "negative"): (
            "Rain all week. Not even {p} can save this {e}",
            "Missed the train and got soaked. Classic {e}",
        ),
    },
    "de": {
        ("praise", "positive"): (
            "{pos} {e}",
            "Ehrlich, {pos}.",
            "Nach zwei Monaten: {pos}.",
            "{pos}. Klare Empfehlung!",
        ),
        ("complaint", "negative"): (
            "{neg} {e}",
            "{neg}. Nie wieder.",
            "Ernsthaft {b}? {neg}.",
            "~Super, {neg}. Genau so habe ich mir das vorgestellt 🙃",
        ),
        ("question", "neutral"): ("{ask}?", "Kurze Frage: {ask}?", "Weiß jemand, {ask}?"),
        ("suggestion", "neutral"): ("{b}, bitte macht {idea}!", "Wünsche mir {idea}."),
        ("other", "neutral"): ("{neu}", "Mit {p} unterwegs in {place}"),
    },
    "fr": {
        ("praise", "positive"): (
            "{pos} {e}",
            "Franchement, {pos}.",
            "Deux mois après : {pos}.",
            "{pos}. Je recommande !",
        ),
        ("complaint", "negative"): (
            "{neg} {e}",
            "{neg}. Plus jamais.",
            "Sérieusement {b} ? {neg}.",
            "~Génial, {neg}. Merci beaucoup 🙃",
        ),
        ("question", "neutral"): (
            "{ask} ?",
            "Petite question : {ask} ?",
            "Quelqu'un sait si {ask} ?",
        ),
        ("suggestion", "neutral"): ("{b}, faites {idea} svp !", "J'aimerais tellement {idea}."),
        ("other", "neutral"): ("{neu}", "Sortie {place} avec {p}"),
    },
    "es": {
        ("praise", "positive"): (
            "{pos} {e}",
            "La verdad, {pos}.",
            "Dos meses después: {pos}.",
            "{pos}. ¡Lo recomiendo!",
        ),
        ("complaint", "negative"): (
            "{neg} {e}",
            "{neg}. Nunca más.",
            "¿En serio {b}? {neg}.",
            "~Genial, {neg}. Justo lo que quería 🙃",
        ),
        ("question", "neutral"): ("¿{ask}?", "Pregunta rápida: ¿{ask}?", "¿Alguien sabe si {ask}?"),
        ("suggestion", "neutral"): ("{b}, por favor haced {idea}.", "Me encantaría {idea}."),
        ("other", "neutral"): ("{neu}", "De ruta por {place} con {p}"),
    },
}

IDEAS: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    # (key, topic, scope, text per language)
    (
        "usb_c",
        "battery",
        "product",
        {
            "en": "USB-C charging on {p}",
            "de": "USB-C für {p}",
            "fr": "une recharge USB-C pour {p}",
            "es": "carga USB-C en {p}",
        },
    ),
    (
        "replaceable_battery",
        "battery",
        "product",
        {
            "en": "a replaceable battery for {p}",
            "de": "einen tauschbaren Akku für {p}",
            "fr": "une batterie remplaçable pour {p}",
            "es": "una batería reemplazable para {p}",
        },
    ),
    (
        "womens_cut",
        "fit",
        "product",
        {
            "en": "a proper women's cut of {p}",
            "de": "einen richtigen Damenschnitt von {p}",
            "fr": "une vraie coupe femme pour {p}",
            "es": "un corte de mujer de {p}",
        },
    ),
    (
        "half_sizes",
        "fit",
        "product",
        {
            "en": "{p} in half sizes",
            "de": "{p} in halben Größen",
            "fr": "{p} en demi-tailles",
            "es": "{p} en medias tallas",
        },
    ),
    (
        "repair_service",
        "durability",
        "brand",
        {
            "en": "a repair service for worn-out gear",
            "de": "einen Reparaturservice",
            "fr": "un service de réparation",
            "es": "un servicio de reparación",
        },
    ),
    (
        "trade_in",
        "sustainability",
        "brand",
        {
            "en": "a trade-in program for old gear",
            "de": "ein Rücknahmeprogramm für alte Ausrüstung",
            "fr": "un programme de reprise",
            "es": "un programa de recompra",
        },
    ),
    (
        "plastic_free",
        "sustainability",
        "brand",
        {
            "en": "plastic-free packaging",
            "de": "plastikfreie Verpackung",
            "fr": "des emballages sans plastique",
            "es": "envíos sin plástico",
        },
    ),
    (
        "darker_colours",
        "design",
        "product",
        {
            "en": "{p} in darker colours",
            "de": "{p} in dunkleren Farben",
            "fr": "{p} en couleurs plus sombres",
            "es": "{p} en colores más oscuros",
        },
    ),
    (
        "chest_pocket",
        "design",
        "product",
        {
            "en": "a chest pocket on {p}",
            "de": "eine Brusttasche an {p}",
            "fr": "une poche poitrine sur {p}",
            "es": "un bolsillo en el pecho de {p}",
        },
    ),
    (
        "gpx_export",
        "app",
        "product",
        {
            "en": "GPX export in the app",
            "de": "GPX-Export in der App",
            "fr": "l'export GPX dans l'appli",
            "es": "exportar GPX en la app",
        },
    ),
    (
        "longer_warranty",
        "durability",
        "brand",
        {
            "en": "a longer warranty",
            "de": "eine längere Garantie",
            "fr": "une garantie plus longue",
            "es": "una garantía más larga",
        },
    ),
    (
        "click_collect",
        "delivery",
        "brand",
        {
            "en": "click & collect in more stores",
            "de": "Click & Collect in mehr Läden",
            "fr": "le click & collect dans plus de magasins",
            "es": "recogida en más tiendas",
        },
    ),
)

CLOSINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "cp": (
            "Would buy again.",
            "10/10.",
            "Thanks {b}!",
            "Well done {b}.",
            "Worth it.",
            "Zero regrets.",
            "Never going back.",
        ),
        "cn": (
            "Never again.",
            "I want my money back.",
            "Done with {b}.",
            "Not what I paid for.",
            "Really disappointed.",
            "Thanks for nothing {b}.",
            "Still no answer from {b}.",
        ),
    },
}

TIMES: dict[str, tuple[str, ...]] = {
    "en": (
        "After two weeks",
        "Three months in",
        "Day one",
        "Last weekend",
        "This morning",
        "After one wash",
        "First hike",
        "Week two",
    ),
}
PLACES: dict[str, tuple[str, ...]] = {
    "en": (
        "the Alps",
        "the Dolomites",
        "Snowdonia",
        "the Lake District",
        "the office",
        "the school run",
        "the Pyrenees",
        "the Highlands",
        "the trailhead",
        "Tromsø",
    ),
    "de": ("den Alpen", "der Sächsischen Schweiz", "Garmisch", "dem Harz"),
    "fr": ("à Chamonix", "dans les Vosges", "dans les Calanques", "dans le Vercors"),
    "es": ("los Picos de Europa", "Sierra Nevada", "el Pirineo", "Montserrat"),
}

EMOJI: dict[str, tuple[str, ...]] = {
    "positive": ("😍", "🔥", "👍", "🙌", "💪", "❤️", "😊", "⛰️", "✨", "🥾", ""),
    "negative": ("😡", "😤", "👎", "🙄", "😞", "💸", "😩", "", ""),
    "neutral": ("🤔", "👀", "🏔️", "📦", "🌲", "", "", ""),
    "sarcastic": ("🙃", "🙂", "👏", "😂", "🤡"),
}

COMMUNITY_TAGS: dict[str, tuple[str, ...]] = {
    "trail_running": ("#trailrunning", "#ultrarunning", "#runnerscommunity"),
    "hiking": ("#hiking", "#hikingadventures", "#wanderlust"),
    "cycling": ("#cycling", "#bikepacking", "#gravel"),
    "climbing": ("#climbing", "#bouldering", "#alpinism"),
    "outdoor_parents": ("#outdoorkids", "#familyhike", "#parentlife"),
    "tech_gadgets": ("#gadgets", "#wearables", "#techreview"),
    "streetwear": ("#gorpcore", "#ootd", "#streetstyle"),
    "vanlife": ("#vanlife", "#roadtrip", "#homeiswhereyouparkit"),
    "sustainability": ("#sustainablefashion", "#buylessbuybetter", "#repairdontreplace"),
    "ski_snow": ("#skitouring", "#powderday", "#snowboarding"),
    "commuters": ("#bikecommute", "#citycycling", "#rainyday"),
    "photography": ("#landscapephotography", "#mountainphotography", "#goldenhour"),
}

# -- replies ---------------------------------------------------------------------------------
REPLIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("complaint", "negative"): (
        "Same here, {neg}.",
        "Same thing happened to me {e}",
        "+1, {neg}.",
        "Glad it's not just me. {neg}.",
        "Happened to me too. {cn}",
    ),
    ("question", "neutral"): (
        "Did you contact {b} support?",
        "Have you tried sending it back?",
        "Which size did you get?",
        "Where did you get it?",
        "Is that the new version?",
    ),
    ("praise", "positive"): (
        "Agreed! {e}",
        "Couldn't agree more.",
        "Same, {pos}.",
        "Totally, {pos} {e}",
        "Strange, mine's been fine for a year {e}",
        "Mine is great, maybe a bad batch? {pos} for me.",
    ),
    ("other", "positive"): (
        "In my experience {pos} {e}",
        "Mine does! {pos}.",
        "Nice! {e}",
        "Looks amazing {e}",
        "Enjoy!",
    ),
    ("other", "neutral"): (
        "No idea, ask {b} support?",
        "I think it depends on the size.",
        "Check the {b} website, it's in the FAQ.",
        "Where is this?",
        "Following",
    ),
    ("suggestion", "positive"): (
        "+1, would buy.",
        "Yes please!",
        "This. {b} are you listening?",
        "Seconded {e}",
    ),
}

THANKS: tuple[str, ...] = (
    "Thanks!",
    "Good to know, thanks {e}",
    "Will do, cheers.",
    "Ah, that helps. Thank you!",
    "Cheers {e}",
)

AUTHOR_FOLLOW_UPS: dict[tuple[str, str], tuple[str, ...]] = {
    ("praise", "positive"): (
        "Thanks {b}, sorted now {e}",
        "That was quick, thank you {b}!",
        "Replacement arrived today. Thanks {b} {e}",
    ),
    ("complaint", "negative"): (
        "Still waiting, {b}. {cn}",
        "DM'd you three days ago. Nothing.",
        "That's what you said last week.",
    ),
}

BRAND_REPLIES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "complaint": (
            "Hi {u}, sorry to hear that! Could you DM us your order number so we can sort it out?",
            "Hi {u}, thanks for flagging this. Our team will reach out today.",
            "{u} that's not the experience we want you to have - DM us and we'll make it right.",
        ),
        "question": (
            "Hi {u}, great question - our size guide and FAQ have the details, "
            "and we're happy to help by DM.",
            "Hi {u}, yes! Send us a DM and we'll check it for you.",
            "{u} good one - we ship to all EU countries in 3-5 days.",
        ),
        "praise": ("Thanks {u}, glad you love it! {e}", "{u} this made our day {e}"),
    },
    "de": {
        "complaint": ("Hallo {u}, das tut uns leid! Schick uns bitte deine Bestellnummer per DM.",),
        "question": ("Hallo {u}, gute Frage - schreib uns gern per DM!",),
        "praise": ("Danke {u}, das freut uns sehr! {e}",),
    },
    "fr": {
        "complaint": ("Bonjour {u}, désolés ! Envoyez-nous votre numéro de commande en DM.",),
        "question": ("Bonjour {u}, bonne question - écrivez-nous en DM !",),
        "praise": ("Merci {u}, ça nous fait très plaisir ! {e}",),
    },
    "es": {
        "complaint": ("Hola {u}, ¡lo sentimos! Envíanos tu número de pedido por DM.",),
        "question": ("Hola {u}, buena pregunta - ¡escríbenos por DM!",),
        "praise": ("¡Gracias {u}, nos alegra mucho! {e}",),
    },
}

BRAND_POSTS: tuple[str, ...] = (
    "Meet the new {p}. Built for long days and cold nights. {h}",
    "Our repair service is now free for all jackets. Bring them back, keep them going. {h}",
    "Weekend plans? {p} is back in stock in all sizes.",
    "Behind the scenes: testing {p} in Tromsø at -20. {h}",
    "We've switched to plastic-free packaging for every order. {h}",
    "Giveaway time! Tell us where you'd take {p} {h}",
)

# -- spam --------------------------------------------------------------------------------------
SPAM: tuple[tuple[str, str], ...] = (
    ("🔥 {b} {p} {pct}% OFF today only 👉 {url}", "neutral"),
    ("Win a free {p}! Follow + RT to enter 👉 {url} #giveaway", "neutral"),
    ("{p} clearance - only {n} left!! {url}", "neutral"),
    ("Best {p} deal of the year, use code {code} at {url}", "neutral"),
    ("💰 Make $500 a day from home, no experience needed 👉 {url}", "neutral"),
    ("Cheap followers and likes, DM now 📈 {url}", "neutral"),
    ("{b} outlet sale 🔥🔥🔥 {url} #outlet #sale", "neutral"),
    ("Best jacket I ever owned!!! Get yours at {url} 😍😍", "positive"),
    ("Amazing quality {p} for just {pct} euro!!! {url}", "positive"),
)
SPAM_DOMAINS = (
    "bit.ly/",
    "tinyurl.com/",
    "nordlicht-outlet.shop/",
    "cheapgear24.top/",
    "gear-deals.xyz/",
)
