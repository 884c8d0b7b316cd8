package chat

import (
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones for the printable exports, also where the system has none (Windows)

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"

	"teamchat/server/model"
)

// The printable (HTML) transcripts are read by people, so they speak the
// reader's language and show times in the reader's zone, with the role names
// the chat shows. JSON and CSV are data: stable codes, UTC. The web client's
// catalogs live in frontend/src/locales; these are the few texts the server
// renders itself, in the same five languages.

// ExportLangs are the languages of the printable exports, English first (the default).
var ExportLangs = []string{"en", "de", "fr", "es", "ar"}

var exportMatcher = language.NewMatcher([]language.Tag{language.English, language.German, language.French, language.Spanish, language.Arabic})

// ExportLang picks the export language from an explicit choice (a BCP 47
// tag such as "de-AT"), else from an Accept-Language header, else English.
func ExportLang(explicit, acceptLanguage string) string {
	var tags []language.Tag
	if explicit != "" {
		if t, err := language.Parse(explicit); err == nil {
			tags = []language.Tag{t}
		}
	}
	if tags == nil && acceptLanguage != "" {
		tags, _, _ = language.ParseAcceptLanguage(acceptLanguage)
	}
	if len(tags) == 0 {
		return "en"
	}
	_, i, conf := exportMatcher.Match(tags...)
	if conf == language.No {
		return "en"
	}
	return ExportLangs[i]
}

// ExportZone reads an IANA time zone name; "" is the server's local zone.
func ExportZone(name string) (*time.Location, error) {
	if name == "" {
		return time.Local, nil
	}
	// "Local" would silently mean the server's zone; only real IANA names.
	if name == "Local" || strings.ContainsAny(name, "\\") || strings.HasPrefix(name, "/") {
		return nil, model.Invalid("tz: want an IANA time zone such as Europe/Berlin")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, model.Invalid("tz: want an IANA time zone such as Europe/Berlin")
	}
	return loc, nil
}

// exportTexts: key → text per language. Plural keys end in ".one" / ".other"
// (and, for Arabic, ".zero", ".two", ".few", ".many"); {n} is the count.
var exportTexts = map[string]map[string]string{
	"en": {
		"raised_hands": "Raised hands", "questions": "Questions",
		"hand.raised": "✋ raised a hand", "hand.called": "was called on", "hand.called_by": "was called on by {t}",
		"hand.lowered_all": "hand lowered with all others", "hand.lowered_all_by": "hand lowered with all others by {t}",
		"hand.lowered_by": "hand lowered by {t}", "hand.lowered": "lowered their hand",
		"anonymous_to_classmates": "anonymous to classmates", "upvotes.one": "{n} upvote", "upvotes.other": "{n} upvotes",
		"question.open": "open", "question.answered": "answered", "question.dismissed": "dismissed", "question.withdrawn": "withdrawn",
		"pinned": "pinned", "answer": "Answer", "answer_by": "Answer by {t}",
		"transcript": "Transcript", "session_transcript": "Session transcript",
		"of_conversation": "Transcript of conversation {n}", "of_session": "Transcript of class session {n}",
		"class_session": "class session {n}", "conversation": "Conversation {n}",
		"from": "from {t}", "until": "until {t}", "running": "still running", "exported": "exported {t}",
		"messages.one": "{n} message", "messages.other": "{n} messages",
		"conversations.one": "{n} conversation", "conversations.other": "{n} conversations",
		"bytes.one": "{n} byte", "bytes.other": "{n} bytes",
		"reply_to": "reply to", "deleted": "[deleted]", "edited": "(edited {t})", "no_messages": "No messages.",
		"role.admin": "professor", "role.guest": "guest",
	},
	"de": {
		"raised_hands": "Handzeichen", "questions": "Fragen",
		"hand.raised": "✋ hat sich gemeldet", "hand.called": "wurde aufgerufen", "hand.called_by": "wurde von {t} aufgerufen",
		"hand.lowered_all": "Hand mit allen anderen gesenkt", "hand.lowered_all_by": "Hand von {t} mit allen anderen gesenkt",
		"hand.lowered_by": "Hand von {t} gesenkt", "hand.lowered": "hat die Hand gesenkt",
		"anonymous_to_classmates": "für die Mitstudierenden anonym", "upvotes.one": "{n} Stimme", "upvotes.other": "{n} Stimmen",
		"question.open": "offen", "question.answered": "beantwortet", "question.dismissed": "verworfen", "question.withdrawn": "zurückgezogen",
		"pinned": "angeheftet", "answer": "Antwort", "answer_by": "Antwort von {t}",
		"transcript": "Verlauf", "session_transcript": "Verlauf der Unterrichtsstunde",
		"of_conversation": "Verlauf der Unterhaltung {n}", "of_session": "Verlauf der Unterrichtsstunde {n}",
		"class_session": "Unterrichtsstunde {n}", "conversation": "Unterhaltung {n}",
		"from": "ab {t}", "until": "bis {t}", "running": "läuft noch", "exported": "exportiert {t}",
		"messages.one": "{n} Nachricht", "messages.other": "{n} Nachrichten",
		"conversations.one": "{n} Unterhaltung", "conversations.other": "{n} Unterhaltungen",
		"bytes.one": "{n} Byte", "bytes.other": "{n} Byte",
		"reply_to": "Antwort auf", "deleted": "[gelöscht]", "edited": "(bearbeitet {t})", "no_messages": "Keine Nachrichten.",
		"role.admin": "Lehrkraft", "role.guest": "Gast",
	},
	"fr": {
		"raised_hands": "Mains levées", "questions": "Questions",
		"hand.raised": "✋ a levé la main", "hand.called": "a reçu la parole", "hand.called_by": "a reçu la parole de {t}",
		"hand.lowered_all": "main baissée avec toutes les autres", "hand.lowered_all_by": "main baissée par {t} avec toutes les autres",
		"hand.lowered_by": "main baissée par {t}", "hand.lowered": "a baissé la main",
		"anonymous_to_classmates": "anonyme pour les camarades", "upvotes.one": "{n} vote", "upvotes.other": "{n} votes",
		"question.open": "ouverte", "question.answered": "répondue", "question.dismissed": "écartée", "question.withdrawn": "retirée",
		"pinned": "épinglée", "answer": "Réponse", "answer_by": "Réponse de {t}",
		"transcript": "Transcription", "session_transcript": "Transcription de la séance",
		"of_conversation": "Transcription de la conversation {n}", "of_session": "Transcription de la séance {n}",
		"class_session": "séance {n}", "conversation": "Conversation {n}",
		"from": "depuis {t}", "until": "jusqu’à {t}", "running": "encore en cours", "exported": "exporté le {t}",
		"messages.one": "{n} message", "messages.other": "{n} messages",
		"conversations.one": "{n} conversation", "conversations.other": "{n} conversations",
		"bytes.one": "{n} octet", "bytes.other": "{n} octets",
		"reply_to": "réponse à", "deleted": "[supprimé]", "edited": "(modifié le {t})", "no_messages": "Aucun message.",
		"role.admin": "professeur", "role.guest": "invité",
	},
	"es": {
		"raised_hands": "Manos levantadas", "questions": "Preguntas",
		"hand.raised": "✋ levantó la mano", "hand.called": "recibió la palabra", "hand.called_by": "recibió la palabra de {t}",
		"hand.lowered_all": "mano bajada junto con todas las demás", "hand.lowered_all_by": "{t} bajó la mano junto con todas las demás",
		"hand.lowered_by": "{t} bajó la mano", "hand.lowered": "bajó la mano",
		"anonymous_to_classmates": "anónima para los compañeros", "upvotes.one": "{n} voto", "upvotes.other": "{n} votos",
		"question.open": "abierta", "question.answered": "respondida", "question.dismissed": "descartada", "question.withdrawn": "retirada",
		"pinned": "fijada", "answer": "Respuesta", "answer_by": "Respuesta de {t}",
		"transcript": "Transcripción", "session_transcript": "Transcripción de la sesión",
		"of_conversation": "Transcripción de la conversación {n}", "of_session": "Transcripción de la sesión de clase {n}",
		"class_session": "sesión de clase {n}", "conversation": "Conversación {n}",
		"from": "desde {t}", "until": "hasta {t}", "running": "todavía en curso", "exported": "exportado el {t}",
		"messages.one": "{n} mensaje", "messages.other": "{n} mensajes",
		"conversations.one": "{n} conversación", "conversations.other": "{n} conversaciones",
		"bytes.one": "{n} byte", "bytes.other": "{n} bytes",
		"reply_to": "respuesta a", "deleted": "[eliminado]", "edited": "(editado el {t})", "no_messages": "No hay mensajes.",
		"role.admin": "profesor", "role.guest": "invitado",
	},
	"ar": {
		"raised_hands": "الأيدي المرفوعة", "questions": "الأسئلة",
		"hand.raised": "✋ رفع يده", "hand.called": "أُعطي الكلمة", "hand.called_by": "أعطاه {t} الكلمة",
		"hand.lowered_all": "أُنزلت اليد مع جميع الأيدي الأخرى", "hand.lowered_all_by": "أنزل {t} اليد مع جميع الأيدي الأخرى",
		"hand.lowered_by": "أنزل {t} اليد", "hand.lowered": "أنزل يده",
		"anonymous_to_classmates": "مجهول الهوية لزملاء الصف",
		"upvotes.zero":            "لا أصوات", "upvotes.one": "صوت واحد", "upvotes.two": "صوتان",
		"upvotes.few": "{n} أصوات", "upvotes.many": "{n} صوتًا", "upvotes.other": "{n} صوت",
		"question.open": "مفتوح", "question.answered": "أُجيب عنه", "question.dismissed": "مرفوض", "question.withdrawn": "مسحوب",
		"pinned": "مثبّت", "answer": "الإجابة", "answer_by": "إجابة {t}",
		"transcript": "سجلّ المحادثة", "session_transcript": "سجلّ الحصة",
		"of_conversation": "سجلّ المحادثة {n}", "of_session": "سجلّ الحصة {n}",
		"class_session": "الحصة {n}", "conversation": "المحادثة {n}",
		"from": "من {t}", "until": "حتى {t}", "running": "ما زالت جارية", "exported": "صُدِّر في {t}",
		"messages.zero": "لا رسائل", "messages.one": "رسالة واحدة", "messages.two": "رسالتان",
		"messages.few": "{n} رسائل", "messages.many": "{n} رسالة", "messages.other": "{n} رسالة",
		"conversations.zero": "لا محادثات", "conversations.one": "محادثة واحدة", "conversations.two": "محادثتان",
		"conversations.few": "{n} محادثات", "conversations.many": "{n} محادثة", "conversations.other": "{n} محادثة",
		"bytes.zero": "{n} بايت", "bytes.one": "بايت واحد", "bytes.two": "بايتان",
		"bytes.few": "{n} بايتات", "bytes.many": "{n} بايت", "bytes.other": "{n} بايت",
		"reply_to": "ردًّا على", "deleted": "[محذوفة]", "edited": "(عُدِّلت {t})", "no_messages": "لا رسائل.",
		"role.admin": "معلّم", "role.guest": "ضيف",
	},
}

// ExportLocale is the reader of a printable export: a language of
// ExportLangs ("" = English) and a zone (nil = the server's local zone).
type ExportLocale struct {
	Lang string
	Zone *time.Location
}

func (e ExportLocale) locale() exportLocale { return newExportLocale(e.Lang, e.Zone) }

// exportLocale renders one export's texts and times.
type exportLocale struct {
	lang string
	tag  language.Tag
	zone *time.Location
}

func newExportLocale(lang string, zone *time.Location) exportLocale {
	if _, ok := exportTexts[lang]; !ok {
		lang = "en"
	}
	if zone == nil {
		zone = time.Local
	}
	return exportLocale{lang: lang, tag: language.MustParse(lang), zone: zone}
}

func (l exportLocale) text(key string) string {
	if s, ok := exportTexts[l.lang][key]; ok {
		return s
	}
	return exportTexts["en"][key]
}

// tr is a text with {n} (an id or count) and {t} (a time) filled in.
func (l exportLocale) tr(key string, args ...any) string {
	s := l.text(key)
	for _, a := range args {
		switch v := a.(type) {
		case int:
			s = strings.ReplaceAll(s, "{n}", strconv.Itoa(v))
		case int64:
			s = strings.ReplaceAll(s, "{n}", strconv.FormatInt(v, 10))
		case string:
			s = strings.ReplaceAll(s, "{t}", v)
		}
	}
	return s
}

var pluralKeys = map[plural.Form]string{plural.Zero: "zero", plural.One: "one", plural.Two: "two", plural.Few: "few", plural.Many: "many"}

// count is "{n} things" with the language's CLDR plural rule.
func (l exportLocale) count(key string, v any) string {
	var n int
	switch x := v.(type) {
	case int:
		n = x
	case int64:
		n = int(x)
	}
	form := plural.Cardinal.MatchPlural(l.tag, n, 0, 0, 0, 0)
	k := key + ".other"
	if name, ok := pluralKeys[form]; ok {
		if _, has := exportTexts[l.lang][key+"."+name]; has {
			k = key + "." + name
		}
	}
	return strings.ReplaceAll(l.text(k), "{n}", strconv.Itoa(n))
}

// when is a time in the reader's zone, with the zone's abbreviation (or offset).
func (l exportLocale) when(t model.Time) string {
	return t.In(l.zone).Format("2006-01-02 15:04:05 MST")
}

// role is the chat's word for a sender's role, "" for a student.
func (l exportLocale) role(code string) string {
	switch code {
	case model.RoleAdmin, model.RoleGuest:
		return l.text("role." + code)
	}
	return ""
}

func (l exportLocale) dir() string {
	if l.lang == "ar" {
		return "rtl"
	}
	return "ltr"
}
