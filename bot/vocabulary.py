"""The words bot/similar.py reads requests with: what says nothing, what says little, and the
concepts and products requests are about, in the languages the rules read. Data only; how it is
used is in bot/similar.py."""

from __future__ import annotations

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
    "nicht auf als il gli di da per con nel della delle dei che non het een van voor met op te niet "
    "en ook na do dla sie jest nie w z ze ka ki ke ko hai se aur bhi mein nahi hona chahiye "
    "os as um uma no na nos nas ao em com sem para".split())
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
              "single sign on", "saml", "auth", "authentication", "authenticate", "oauth",
              "oidc", "openid", "iniciar sesion", "inicio de sesion", "connexion",
              "se connecter", "anmelden", "anmeldung", "accedi", "inloggen", "logowanie",
              "zaloguj", "ldap"),
    "logout": ("logout", "log out", "sign out", "signout", "session timeout", "cerrar sesion",
               "deconnexion", "abmelden", "uitloggen", "wyloguj"),
    "mfa": ("2fa", "mfa", "two factor", "2 factor", "two step", "otp", "totp", "authenticator",
            "multi factor", "two factor auth", "two factor authentication", "2fa auth"),
    "password": ("password", "passwort", "contrasena", "senha", "mot de passe", "wachtwoord",
                 "haslo", "passcode", "forgot password"),
    "signup": ("sign up", "signup", "register", "registration", "create account",
               "registro", "cadastro", "inscription", "registrierung", "registrazione",
               "aanmelden", "rejestracja"),
    "dashboard": ("dashboard", "report", "chart", "graph", "analytic", "metric", "stats",
                  "statistics", "insight", "kpi", "visualization", "visualisation", "panel",
                  "informe", "relatorio", "painel", "rapport", "tableau de bord", "bericht",
                  "auswertung", "grafico", "cruscotto", "rapporto", "raport", "wykres",
                  "overview page", "reporting"),
    "notify": ("notify", "notification", "alert", "email", "e mail", "mail", "ping",
               "reminder", "remind", "push notification", "sms", "text message", "notificacion",
               "digest",
               "aviso", "notificacao", "alerta", "lembrete", "rappel", "benachrichtigung",
               "erinnerung", "benachrichtigungen", "erinnerungen", "notifica", "promemoria",
               "melding", "herinnering",
               "powiadomienie", "przypomnienie", "let me know", "heads up", "nudge"),
    "invoice": ("invoice", "bill", "billing", "receipt", "factura", "fatura", "facture",
                "rechnung", "rechnungen", "fattura", "factuur", "faktura", "nota fiscal", "invoicing"),
    "payment": ("payment", "pay", "checkout", "credit card", "pago",
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
                   "access right", "access level", "rights", "permiso", "permissao",
                   "droit", "berechtigung", "berechtigungen", "rechte", "permesso", "rechten", "uprawnienia",
                   "who can see", "who can edit", "restrict access"),
    "admin": ("admin", "administrator", "admin console", "admin panel", "back office",
              "backoffice", "admin page", "administracion", "administracao", "verwaltung"),
    "api": ("api", "endpoint", "rest api", "graphql", "sdk", "webhook", "integration",
            "integrate", "connector"),
    "sync": ("sync", "synchronize", "synchronise", "two way sync", "sincronizar",
             "synchroniser", "synchronisieren", "sincronizzare", "synchroniseren"),
    "calendar": ("calendar", "ical", "ics",
                 "calendario", "calendrier", "kalender", "kalendarz", "agenda"),
    "language": ("translation", "translate", "localization", "localisation", "localize",
                 "i18n", "l10n", "multilingual", "language", "traduccion", "idioma", "traducao",
                 "spanish", "english", "portuguese", "french", "german", "italian", "dutch",
                 "polish", "hindi", "espanol", "portugues", "francais", "deutsch", "italiano",
                 "nederlands", "polski", "lang", "locale",
                 "traduction", "langue", "ubersetzung", "sprache", "traduzione", "lingua",
                 "vertaling", "taal", "tlumaczenie", "jezyk"),
    "speed": ("slow", "performance", "speed", "fast", "faster", "latency", "load time",
              "loading", "lag", "laggy", "sluggish", "takes forever", "lento",
              "langsam", "traag", "wolno", "perf"),
    "attach": ("attachment", "attach", "anexo", "adjunto", "piece jointe", "anhang",
               "allegato", "bijlage", "zalacznik", "file upload"),
    "share": ("share", "sharing", "shareable", "public link", "share link", "compartir",
              "compartilhar", "partager", "teilen", "condividere", "delen", "udostepnij"),
    "template": ("template", "preset", "plantilla", "modelo", "modele", "vorlage", "vorlagen", "modello",
                 "sjabloon", "szablon", "boilerplate"),
    "history": ("audit log", "audit trail", "audit", "history", "activity log", "changelog",
                "change log", "version history", "historial", "historico", "historique",
                "verlauf", "cronologia", "geschiedenis", "historia", "who changed"),
    "undo": ("undo", "restore", "recover", "recycle bin", "trash", "revert", "undelete",
             "rollback", "roll back", "previous version",
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
                "erasure", "right to be forgotten", "delete my data", "data deletion",
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
    "offboard": ("deactivate", "offboarding", "offboard", "deprovision", "deprovisioning",
                 "scim", "provisioning", "user provisioning", "suspend user"),
    "pricing": ("pricing", "price", "plan", "plans", "tier", "metered", "usage based",
                "per seat", "seats", "precio", "preco", "prix", "preis", "prezzo", "prijs",
                "cena"),
    "tax": ("vat", "tax", "sales tax", "gst", "mwst", "iva", "tva", "btw", "steuer",
            "impuesto", "imposto"),
    "onboarding": ("onboarding", "setup wizard", "getting started", "checklist", "product tour",
                   "walkthrough", "first run", "welcome tour"),
    "environment": ("staging", "preview environment", "sandbox", "test environment",
                    "environment", "env", "staging server"),
    "ci": ("ci", "pipeline", "build pipeline", "test suite", "github actions", "jenkins",
           "circleci", "ci cd", "continuous integration"),
    "limit": ("limit", "quota", "maximum", "max", "cap", "size limit", "rate limit", "limite",
              "grenze", "limiet", "limit"),
    "allowlist": ("allowlist", "whitelist", "ip restriction", "ip range", "ip ranges",
                  "allowlisting", "whitelisting", "blocklist"),
    "timesheet": ("timesheet", "time tracking", "time sheet", "zeiterfassung", "time entry",
                  "hours worked", "horas", "heures", "stunden", "uren", "godziny"),
    "mention": ("mention", "at mention", "mentioned", "tagged me"),
    "field": ("custom field", "attribute", "custom attribute", "property", "properties",
              "extra field", "campo", "champ", "feld", "veld", "pole"),
    "approval": ("approval", "approver", "approve", "sign off", "aprobacion", "aprovacao",
                 "validation", "genehmigung", "approvazione", "goedkeuring", "zatwierdzenie"),
    "statuspage": ("status page", "uptime", "outage page", "system status"),
    "chat": ("chat", "chat channel", "channel"),
    "crm": ("crm", "customer relationship"),
    "tracker": ("issue tracker", "project management tool"),
    "accounting": ("accounting software", "accounting system", "accounting tool",
                   "bookkeeping", "ledger", "contabilidad", "contabilidade",
                   "comptabilite", "buchhaltung", "contabilita", "boekhouding", "ksiegowosc"),
    "storage": ("cloud storage", "file storage", "drive"),
}

# Products people name: each is itself (two requests naming HubSpot may be one; "Sync signups
# to HubSpot" and "... to Salesforce" are two), belongs to a concept ("an Okta login" is a
# login), and excludes the others of its kind.
BRANDS: dict[str, tuple[str, ...]] = {
    "crm": ("hubspot", "salesforce", "sfdc", "pipedrive", "zoho", "dynamics 365"),
    "chat": ("slack", "microsoft teams", "ms teams", "msteams", "discord", "google chat",
             "mattermost", "whatsapp", "telegram"),
    "tracker": ("jira", "trello", "asana", "clickup", "monday com", "github issues",
                "gitlab issues", "basecamp", "notion"),
    "accounting": ("xero", "quickbooks", "qbo", "sage", "netsuite", "datev", "freshbooks"),
    "login": ("okta", "azure ad", "entra id", "entra", "active directory", "onelogin", "auth0",
              "keycloak", "google workspace", "ping identity", "jumpcloud"),
    "storage": ("google drive", "dropbox", "onedrive", "sharepoint", "box com", "s3"),
    "calendar": ("google calendar", "outlook", "gcal", "outlook calendar"),
    "payment": ("stripe", "paypal", "adyen", "braintree", "mollie", "klarna"),
    "dashboard": ("looker", "tableau", "power bi", "powerbi", "metabase", "grafana"),
    "api": ("zapier", "make com", "n8n", "ifttt"),
}
# The same product by another name.
ALIASES = {"sfdc": "salesforce", "ms teams": "microsoft teams", "msteams": "microsoft teams",
            "qbo": "quickbooks", "entra id": "azure ad", "entra": "azure ad",
            "active directory": "azure ad", "gcal": "google calendar",
            "outlook calendar": "outlook", "powerbi": "power bi"}

# Concepts that can't both be meant: "CSV import" is not "CSV export".
EXCLUSIVE: tuple[frozenset[str], ...] = (
    frozenset({"~import", "~export"}), frozenset({"~sheet", "~pdf", "~json"}),
    frozenset({"~darkmode", "~lightmode"}),
)
# Words every request uses: sharing only these ("page", "data", "users") is no match.
GENERIC_WORDS = (
    "page pages data user users customer customers client clients app application feature "
    "features option options ability way screen view list button field fields setting settings "
    "system tool tools team teams thing things stuff issue issues item items info information "
    "time times work working use using used support better easy easier quick quickly possible "
    "improve improvement improvements allow let show see create update change one everyone "
    "people someone something like would nice also every each today day week month year "
    "manual manually hand hours minutes lot lots many much other new current currently "
    "problem problems request requests since still again without want wants need needs "
    "product account accounts section tab click clicks file files form forms link links "
    "having doing going take takes taking ask asking asked tell know think help")

# What is done (export, delete, search) says less than what it is done to (invoices, roles).
ACTIONS = ("export", "import", "delete", "bulk", "search", "sync", "share", "sort", "hide",
           "undo", "schedule", "speed", "notify", "sheet", "pdf", "json", "api", "chat",
           "mobile", "tracker", "storage", "limit", "approval", "environment")
# Words common in any team's chat, requests and problem statements: they count, a little.
COMMON_WORDS = (
    "after afternoon answer anyone anything back because before behind between big block "
    "book break broken bug build call check close copy crash date done down edit else end "
    "error event everything fail first fix flow get give goes good got great half idea "
    "instead keep last late left long main most move next nothing now off old only open "
    "over own pass pick plan post ready real return run said say send sent start stop sure "
    "through until wait wrong yet whole number level type types status version detail "
    "details record records entry entries message messages row rows column columns table "
    "tables value values name names address group groups member members company business "
    "internal external able unable hard slow fast big small large huge every single double "
    "multiple different same specific certain full part end start finance sales support "
    "marketing ops legal engineering manager managers admin admins staff employee employees "
    "user's customer's lose lost waste wasted spend spent retype retyping copy paste "
    "spreadsheet email emails minute hour week month quarter year yesterday tomorrow "
    "monday tuesday wednesday thursday friday weekend morning evening night")
# Slips of a concept's word that are words themselves ("tablet" without its t is "table").
REAL_WORDS = frozenset("table filer pages plane alter later enter print".split())
