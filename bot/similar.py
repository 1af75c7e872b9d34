"""How alike two requests are, with no language model: words brought to their stems, the
words requests use folded to a few dozen concepts, rare words weighing more than common ones.

"invoice download as a spreadsheet" and "CSV export of invoices" share three concepts (an
invoice, getting data out, a spreadsheet) and no word; "settings page" and "pricing page" share
a word that says nothing. The score is a weighted Jaccard overlap of the two sets of terms:
the weight of what both say over the weight of what either says. It stays explainable
(`explain` lists the shared terms) and cheap: each text is read once and remembered.

A request is compared as its title and, when both sides have one, its problem statement too.
The text passed around for a request (`request_text`) is the title, then the problem on the
lines after it; a title is always one line.

Blocker matching (bot.classify) reads the same stems through `keywords`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# ---- words ---------------------------------------------------------------------------------

# Words that say nothing about what is asked for, in the languages the rules read.
STOPWORDS = frozenset(
    # English
    "a an the and or but to of in on for with from by at as is are be been it its this that these "
    "those we our you your they their i me my can could would should will please add new make "
    "get have has need want able so when what which who how all any some more less into out up "
    "about than then there here just also via per do does not no yes "
    # Spanish, Portuguese, French, German, Italian, Dutch, Polish, Hindi in Latin letters
    "de la el los las del al para por con un una unos y en que se lo le les des du au aux pour "
    "avec et est une dans sur pas ne der die das den dem und fur mit von ein eine einen zu im ist "
    "nicht auf il gli di da per con nel della delle dei che non het een van voor met op te niet "
    "en ook na do dla sie jest nie w z ze ka ki ke ko hai se aur bhi mein nahi hona chahiye "
    "os as um uma no na nos nas ao em com sem para".split())
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _fold(text: str) -> str:
    """Lower case without accents: "Télécharger" and "telecharger" are one word."""
    text = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    return "".join(c for c in text if not unicodedata.combining(c))


# British spellings, written the American way before stemming.
_BRITISH = (("isation", "ization"), ("isations", "izations"), ("ising", "izing"),
            ("ised", "ized"), ("ises", "izes"), ("iour", "ior"), ("olour", "olor"),
            ("avour", "avor"), ("ogue", "og"), ("yse", "yze"), ("ysed", "yzed"),
            ("ysing", "yzing"), ("centre", "center"), ("licence", "license"),
            ("ise", "ize"))
# Words the suffix rules would spoil or that the rules can't reach.
_IRREGULAR = {
    "ise": "ise", "wise": "wise", "rise": "rise", "noise": "noise", "otherwise": "otherwise",
    "data": "data", "news": "news", "status": "status", "analytics": "analytic", "daily": "day",
    "children": "child", "people": "person", "emails": "email", "this": "this", "its": "its",
    "has": "has", "was": "was", "does": "does", "is": "is", "us": "us", "bus": "bus",
    "always": "always", "apply": "apply", "sometimes": "sometimes", "across": "across", "less": "less",
}
_SUFFIXES = ("ization", "ational", "ation", "ition", "ement", "ment", "ness", "able", "ible", "ings",
             "ing", "ers", "ed", "er", "ly", "al")
_DOUBLED = re.compile(r"([b-df-hj-np-rtv-z])\1$")


def stem(word: str) -> str:
    """A light stemmer: plurals, -ing, -ed, -er, -ation, -ment, -ly forms and British spellings
    to one stem ("exports", "exporting", "exported", "exporter" -> "export"; "customisation",
    "customizing" -> "customiz"). Deliberately crude: both sides of a comparison go through it,
    so a stem need not be a word, only the same for the forms people mean alike."""
    word = _fold(word)
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    for british, american in _BRITISH:
        if word.endswith(british) and len(word) > len(british):
            word = word[: -len(british)] + american
            break
    # Plurals.
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    # At most two derivational suffixes ("ordered" -> "order" -> "ord", as "order" -> "ord").
    for _ in range(2):
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                if suffix in ("ation", "ition", "ational"):
                    word += "at"  # "integration" meets "integrate" and "integrated"
                elif suffix == "ization":
                    word += "iz"  # "customization" meets "customize"
                break
        else:
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if word.endswith("y") and len(word) > 3:
        word = word[:-1] + "i"  # "notify", "notified": "notifi"
    if _DOUBLED.search(word) and len(word) > 3:
        word = word[:-1]  # "logging" -> "logg" -> "log", "billing" -> "bil" as "bill"
    return word


def keywords(text: str) -> frozenset[str]:
    """The stems of the words that say something (stopwords and single letters left out)."""
    words = (w for w in _WORD.findall(_fold(text)) if len(w) > 1 and w not in STOPWORDS)
    return frozenset(stem(w) for w in words)


# ---- concepts ------------------------------------------------------------------------------

# The words requests use, folded to what they mean. A phrase (several words) is matched before
# its words are read one by one; every form a stem covers is covered ("sign-in", "signing in").
CONCEPTS: dict[str, tuple[str, ...]] = {
    "export": ("export", "download", "extract", "dump", "exportar", "descargar", "baixar",
               "exportieren", "herunterladen", "esportare", "scaricare", "exporteren",
               "downloaden", "eksport", "eksportowac", "pobierz", "telecharger", "get out",
               "pull out"),
    "import": ("import", "upload", "importar", "importieren", "hochladen", "importare",
               "caricare", "importeren", "uploaden", "wgraj", "importowac", "bulk upload"),
    "sheet": ("spreadsheet", "csv", "excel", "xlsx", "xls", "sheet", "google sheets", "tsv",
              "planilha", "hoja de calculo", "tableur", "tabellenkalkulation", "foglio",
              "arkusz", "numbers file"),
    "pdf": ("pdf", "printable", "print", "imprimir", "imprimer", "drucken", "stampa", "printen",
            "drukuj"),
    "json": ("json", "xml", "yaml"),
    "login": ("login", "log in", "logon", "log on", "sign in", "signin", "sign on", "sso",
              "single sign on", "saml", "okta", "auth", "authentication", "authenticate",
              "oauth", "oidc", "openid", "azure ad", "entra", "google workspace login",
              "iniciar sesion", "inicio de sesion", "connexion", "se connecter",
              "anmelden", "anmeldung", "accedi", "inloggen", "logowanie",
              "zaloguj", "active directory", "ldap", "onelogin", "auth0", "keycloak"),
    "logout": ("logout", "log out", "sign out", "signout", "session timeout", "cerrar sesion",
               "deconnexion", "abmelden", "uitloggen", "wyloguj"),
    "mfa": ("2fa", "mfa", "two factor", "2 factor", "two step", "otp", "totp", "authenticator",
            "multi factor"),
    "password": ("password", "passwort", "contrasena", "senha", "mot de passe", "wachtwoord",
                 "haslo", "passcode", "forgot password"),
    "signup": ("sign up", "signup", "register", "registration", "create account",
               "registro", "cadastro", "inscription", "registrierung", "registrazione",
               "aanmelden", "rejestracja"),
    "dashboard": ("dashboard", "report", "chart", "graph", "analytic", "metric", "stats",
                  "statistics", "insight", "kpi", "visualization", "visualisation", "panel",
                  "informe", "relatorio", "painel", "rapport", "tableau de bord", "bericht",
                  "auswertung", "grafico", "cruscotto", "rapporto", "raport", "wykres",
                  "overview page", "reporting", "looker", "tableau", "power bi"),
    "notify": ("notify", "notification", "alert", "email", "e mail", "mail", "ping",
               "reminder", "remind", "push notification", "sms", "text message", "notificacion",
               "aviso", "notificacao", "alerta", "lembrete", "rappel", "benachrichtigung",
               "erinnerung", "notifica", "promemoria", "melding", "herinnering",
               "powiadomienie", "przypomnienie", "let me know", "heads up", "nudge"),
    "invoice": ("invoice", "bill", "billing", "receipt", "factura", "fatura", "facture",
                "rechnung", "fattura", "factuur", "faktura", "nota fiscal", "invoicing"),
    "payment": ("payment", "pay", "checkout", "stripe", "credit card", "paypal", "pago",
                "pagamento", "paiement", "zahlung", "betaling", "platnosc", "refund"),
    "delete": ("delete", "remove", "erase", "purge", "wipe", "borrar", "eliminar", "excluir",
               "apagar", "supprimer", "loschen", "entfernen", "eliminare", "cancellare",
               "rimuovere", "verwijderen", "usun", "usunac", "get rid of"),
    "bulk": ("bulk", "batch", "mass", "multi select", "multiselect", "select all",
             "all at once", "several at once", "en masse", "em massa", "en lote", "masiv",
             "in blocco", "massenhaft", "masowo", "zbiorczo", "many at once"),
    "search": ("search", "find", "filter", "lookup", "look up", "searchable", "buscar",
               "busca", "busqueda", "pesquisar", "pesquisa", "recherche", "rechercher",
               "chercher", "suche", "suchen", "cerca", "cercare", "ricerca", "zoeken",
               "wyszukiwanie", "szukaj", "filtro", "filtrar", "filtre", "filtern", "filtr"),
    "darkmode": ("dark mode", "dark theme", "night mode", "night theme", "darkmode", "theme",
                 "modo oscuro", "modo escuro", "modo noturno", "mode sombre", "theme sombre",
                 "dunkelmodus", "dunkler modus", "dark modus", "modalita scura", "tema scuro",
                 "donkere modus", "tryb ciemny", "dark ui"),
    "lightmode": ("light mode", "light theme", "modo claro", "mode clair", "heller modus"),
    "mobile": ("mobile", "ios", "android", "iphone", "ipad", "smartphone", "tablet",
               "mobile app", "phone app", "native app", "ios app", "android app", "movil",
               "celular", "movel", "telephone", "cellulare", "telefoon", "telefon",
               "mobiel", "mobilny", "app store", "play store", "on my phone", "on the phone"),
    "permission": ("permission", "role", "access control", "rbac", "acl", "privilege",
                   "access right", "access level", "rights", "read only", "permiso", "permissao",
                   "droit", "berechtigung", "rechte", "permesso", "rechten", "uprawnienia",
                   "who can see", "who can edit", "restrict access"),
    "admin": ("admin", "administrator", "admin console", "admin panel", "back office",
              "backoffice", "admin page", "administracion", "administracao", "verwaltung"),
    "api": ("api", "endpoint", "rest api", "graphql", "sdk", "webhook", "integration",
            "integrate", "zapier", "connector"),
    "sync": ("sync", "synchronize", "synchronise", "two way sync", "sincronizar",
             "synchroniser", "synchronisieren", "sincronizzare", "synchroniseren"),
    "calendar": ("calendar", "ical", "ics", "google calendar", "outlook calendar",
                 "calendario", "calendrier", "kalender", "kalendarz", "agenda"),
    "language": ("translation", "translate", "localization", "localisation", "localize",
                 "i18n", "l10n", "multilingual", "language", "traduccion", "idioma", "traducao",
                 "traduction", "langue", "ubersetzung", "sprache", "traduzione", "lingua",
                 "vertaling", "taal", "tlumaczenie", "jezyk"),
    "speed": ("slow", "performance", "speed", "fast", "faster", "latency", "load time",
              "loading", "lag", "laggy", "sluggish", "takes forever", "lento",
              "langsam", "traag", "wolno", "perf"),
    "attach": ("attachment", "attach", "anexo", "adjunto", "piece jointe", "anhang",
               "allegato", "bijlage", "zalacznik", "file upload"),
    "share": ("share", "sharing", "shareable", "public link", "share link", "compartir",
              "compartilhar", "partager", "teilen", "condividere", "delen", "udostepnij"),
    "template": ("template", "preset", "plantilla", "modelo", "modele", "vorlage", "modello",
                 "sjabloon", "szablon", "boilerplate"),
    "history": ("audit log", "audit trail", "audit", "history", "activity log", "changelog",
                "change log", "version history", "historial", "historico", "historique",
                "verlauf", "cronologia", "geschiedenis", "historia", "who changed"),
    "undo": ("undo", "restore", "recover", "recycle bin", "trash", "revert", "undelete",
             "deshacer", "desfazer", "annuler", "ruckgangig", "annulla", "ongedaan",
             "cofnij"),
    "shortcut": ("keyboard shortcut", "shortcut", "hotkey", "keybinding", "atajo", "atalho",
                 "raccourci", "tastenkurzel", "scorciatoia", "sneltoets", "skrot"),
    "accessibility": ("accessibility", "a11y", "screen reader", "contrast", "wcag",
                      "accesibilidad", "acessibilidade", "accessibilite", "barrierefreiheit",
                      "accessibilita", "toegankelijkheid", "dostepnosc"),
    "timezone": ("timezone", "time zone", "utc", "zona horaria", "fuso horario",
                 "fuseau horaire", "zeitzone", "fuso orario", "tijdzone", "strefa czasowa"),
    "currency": ("currency", "multi currency", "exchange rate", "moneda", "moeda", "devise",
                 "wahrung", "valuta", "waluta"),
    "privacy": ("gdpr", "privacy", "data retention", "consent", "anonymize", "anonymise",
                "dsgvo", "rgpd", "lgpd", "personal data"),
    "schedule": ("schedule", "recurring", "cron", "automatic", "automatically", "automate",
                 "automation", "every week", "every day", "every month", "programar",
                 "agendar", "planifier", "planen", "pianificare", "inplannen", "harmonogram"),
    "offline": ("offline", "no connection", "without internet", "sin conexion", "hors ligne",
                "senza connessione", "bez internetu"),
    "tag": ("tag", "label", "category", "categorize", "etiqueta", "etiquette", "schlagwort",
            "etichetta", "categoria", "kategorie", "kategoria"),
    "comment": ("comment", "annotation", "annotate", "comentario", "commentaire",
                "kommentar", "commento", "opmerking", "komentarz"),
    "sort": ("sort", "sorting", "order by", "reorder", "drag and drop", "ordenar", "trier",
             "sortieren", "ordinare", "sorteren", "sortuj"),
    "hide": ("hide", "hidden", "collapse", "ocultar", "esconder", "masquer", "ausblenden",
             "nascondere", "verbergen", "ukryj", "archive", "archived"),
    "chat": ("slack", "ms teams", "microsoft teams", "chat", "discord"),
    "crm": ("crm", "hubspot", "salesforce", "pipedrive"),
    "tracker": ("jira", "github issues", "trello", "asana", "ticket", "tickets"),
}

# Concepts that can't both be meant: "CSV import" is not "CSV export".
_EXCLUSIVE: tuple[frozenset[str], ...] = (
    frozenset({"~import", "~export"}), frozenset({"~sheet", "~pdf", "~json"}),
    frozenset({"~darkmode", "~lightmode"}), frozenset({"~login", "~logout"}),
)
CONFLICT_PENALTY = 0.5

# Words every request uses: sharing only these ("page", "data", "users") is no match.
GENERIC = frozenset(stem(w) for w in (
    "page pages data user users customer customers client clients app application feature "
    "features option options ability way screen view list button field fields setting settings "
    "system tool tools team teams thing things stuff issue issues item items info information "
    "time times work working use using used support better easy easier quick quickly possible "
    "improve improvement improvements allow let show see create update change one everyone "
    "people someone something like would nice also every each today day week month year "
    "manual manually hand hours minutes lot lots many much other new current currently "
    "problem problems request requests since still again without want wants need needs "
    "product account accounts section tab click clicks file files form forms link links "
    "having doing going take takes taking ask asking asked tell know think help".split()))

CONCEPT_WEIGHT = 1.0
GENERIC_WEIGHT = 0.25
WORD_WEIGHT = 1.0
SHORT_WEIGHT = 0.5  # two letters, or numbers: seldom what a request is about


def _phrase_table() -> tuple[dict[tuple[str, ...], str], int]:
    table: dict[tuple[str, ...], str] = {}
    for concept, words in CONCEPTS.items():
        for phrase in words:
            key = tuple(stem(w) for w in _WORD.findall(_fold(phrase)))
            table.setdefault(key, f"~{concept}")
    return table, max(len(key) for key in table)


_PHRASES, _LONGEST = _phrase_table()


def _weight(term: str) -> float:
    if term.startswith("~"):
        return CONCEPT_WEIGHT
    if term in GENERIC:
        return GENERIC_WEIGHT
    if len(term) <= 2 or term.isdigit():
        return SHORT_WEIGHT
    return WORD_WEIGHT


@lru_cache(maxsize=8192)
def terms(text: str) -> frozenset[str]:
    """What `text` is about: concepts (written "~export") and the stems of other words."""
    words = _WORD.findall(_fold(text))
    stems = [stem(w) for w in words]
    found: set[str] = set()
    i = 0
    while i < len(stems):
        for size in range(min(_LONGEST, len(stems) - i), 0, -1):
            concept = _PHRASES.get(tuple(stems[i:i + size]))
            if concept and (size > 1 or words[i] not in STOPWORDS):
                found.add(concept)
                i += size
                break
        else:
            if len(words[i]) > 1 and words[i] not in STOPWORDS:
                found.add(stems[i])
            i += 1
    return frozenset(found)


# ---- comparing -----------------------------------------------------------------------------

def request_text(title: str, problem: str | None = None) -> str:
    """A request as the `similar` question reads it: the title, and the problem below it."""
    title = " ".join(title.split())
    return f"{title}\n{problem.strip()}" if problem and problem.strip() else title


def _parts(text: str) -> tuple[str, str]:
    title, _, problem = text.partition("\n")
    return title, problem.strip()


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    union = sum(_weight(t) for t in a | b)
    score = sum(_weight(t) for t in a & b) / union
    for group in _EXCLUSIVE:
        mine, theirs = a & group, b & group
        if mine and theirs and not mine & theirs:
            score *= CONFLICT_PENALTY
    return score


# At or above this score two requests are pointed at as alike (tuned on the labelled pairs).
THRESHOLD = 0.3
# How much the problem statements count when both requests have one.
PROBLEM_SHARE = 0.5


def similarity(a: str, b: str) -> float:
    """0 (nothing in common) to 1 (the same terms). Two titles are compared by their terms; when
    both texts carry a problem statement, the whole texts are compared too, and the score is
    the better of the titles alone and their blend with the whole."""
    title_a, problem_a = _parts(a)
    title_b, problem_b = _parts(b)
    score = _overlap(terms(title_a), terms(title_b))
    if problem_a and problem_b:
        whole = _overlap(terms(title_a) | terms(problem_a), terms(title_b) | terms(problem_b))
        score = max(score, (1 - PROBLEM_SHARE) * score + PROBLEM_SHARE * whole)
    return score


@dataclass(frozen=True)
class Explanation:
    score: float
    shared: tuple[str, ...]  # the terms both say, heaviest first
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]


def explain(a: str, b: str) -> Explanation:
    """Why two texts score what they do: the terms they share and the ones they don't."""
    ta = terms(_parts(a)[0]) | terms(_parts(a)[1])
    tb = terms(_parts(b)[0]) | terms(_parts(b)[1])

    def ordered(items: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(items, key=lambda t: (-_weight(t), t)))

    return Explanation(similarity(a, b), ordered(ta & tb), ordered(ta - tb), ordered(tb - ta))
