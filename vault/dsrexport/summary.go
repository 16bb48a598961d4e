package dsrexport

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/vault"
)

//go:embed summary.html.tmpl
var summaryHTML string

// summaryTmpl escapes every value it is given: html/template.
var summaryTmpl = template.Must(template.New("").Funcs(template.FuncMap{"join": strings.Join}).Parse(summaryHTML))

// summary is the data of the page: the same answer in each language.
type summary struct{ FR, EN *view }

// view is the answer in one language, every code turned into words.
type view struct {
	T           *texts
	Controller  string
	RequestType string
	RequestID   string
	Received    string
	Generated   string
	SubjectID   string
	Fields      []fieldView
	Consents    []consentView
	Purposes    []groupView
	Categories  []groupView
	HasSpecial  bool
	Recipients  []string
	Accesses    []accessView
	SourceText  string
	Sources     []string
	RightsHow   string
}

type fieldView struct {
	Label, Name, Category, Retention string
	Values                           []string
	List, Special                    bool
}

type consentView struct{ Label, Name, Status, At, Source, Proof string }

// groupView is a purpose or a category and the fields it covers.
type groupView struct {
	Label, Code string
	Special     bool
	Fields      []string
}

type accessView struct{ Time, Role, Action, Purpose, Fields string }

func writeSummary(w io.Writer, d *document) error {
	return summaryTmpl.ExecuteTemplate(w, "summary", &summary{FR: newView(d, fr), EN: newView(d, en)})
}

func newView(d *document, t *texts) *view {
	controller := d.Controller
	if controller == "" {
		controller = "—"
	}
	v := &view{
		T:           t,
		Controller:  controller,
		RequestType: t.label(requestLabels, d.Request.Type),
		RequestID:   d.Request.ID,
		Received:    t.date(d.Request.ReceivedAt),
		Generated:   t.dateTime(d.GeneratedAt),
		SubjectID:   d.Subject.ID,
		Recipients:  d.Recipients,
		SourceText:  fmt.Sprintf(t.SourceController, controller),
		RightsHow:   fmt.Sprintf(t.RightsHow, controller),
	}
	purposes := map[string]*groupView{}
	categories := map[string]*groupView{}
	var purposeOrder, categoryOrder []string
	for _, f := range d.Fields {
		label := t.label(fieldLabels, f.Name)
		values := f.values
		if labels := valueLabels[f.Name]; labels != nil {
			values = make([]string, len(f.values))
			for i, val := range f.values {
				values[i] = t.label(labels, val)
			}
		}
		v.Fields = append(v.Fields, fieldView{
			Label: label, Name: f.Name, Category: t.category(f.Category),
			Retention: t.retention(f.Retention), Values: values, List: f.list, Special: f.special,
		})
		v.HasSpecial = v.HasSpecial || f.special
		cat := f.Category
		if categories[cat] == nil {
			categories[cat] = &groupView{Label: t.category(cat), Code: cat}
			categoryOrder = append(categoryOrder, cat)
		}
		categories[cat].Special = categories[cat].Special || f.special
		categories[cat].Fields = append(categories[cat].Fields, label)
		for _, p := range f.Purposes {
			if purposes[p] == nil {
				purposes[p] = &groupView{Label: t.label(purposeLabels, p), Code: p}
				purposeOrder = append(purposeOrder, p)
			}
			purposes[p].Fields = append(purposes[p].Fields, label)
		}
	}
	for _, c := range categoryOrder {
		v.Categories = append(v.Categories, *categories[c])
	}
	for _, p := range purposeOrder {
		v.Purposes = append(v.Purposes, *purposes[p])
	}
	for _, c := range d.Consents {
		status := t.Refused
		if c.Granted {
			status = t.Granted
		}
		v.Consents = append(v.Consents, consentView{Label: t.label(consentLabels, c.Name), Name: c.Name,
			Status: status, At: t.dateTime(c.At), Source: c.Source, Proof: c.Proof})
		if c.Source != "" && !slices.Contains(v.Sources, c.Source) {
			v.Sources = append(v.Sources, c.Source)
		}
	}
	for _, a := range d.Accesses {
		fields := make([]string, len(a.Fields))
		for i, f := range a.Fields {
			fields[i] = t.label(fieldLabels, f)
		}
		v.Accesses = append(v.Accesses, accessView{Time: t.dateTime(a.Time), Role: t.label(roleLabels, a.ActorRole),
			Action: t.action(a.Action), Purpose: t.label(purposeLabels, a.Purpose), Fields: strings.Join(fields, ", ")})
	}
	return v
}

// label is a code's words in French and English.
type label struct{ fr, en string }

// texts are the words of the summary in one language.
type texts struct {
	lang                                               string
	months                                             [12]string
	Title, Controller, Request, Reference, Received    string
	Generated, Record, Files                           string
	DataTitle, ColField, ColValue, ColCategory, NoData string
	SpecialBadge, SpecialNote                          string
	ConsentsTitle, ColConsent, ColStatus, ColDate      string
	ColSource, ColProof, NoConsents, Granted, Refused  string
	PurposesTitle, PurposesIntro, NoPurposes           string
	CategoriesTitle, NoCategory                        string
	RecipientsTitle, NoRecipients                      string
	AccessesTitle, AccessesIntro, NoAccesses           string
	ColRole, ColAction, ColPurpose, ColFields          string
	RetentionTitle, RetentionIntro, ColRetention       string
	NotSet                                             string
	SourceTitle, SourceController, ConsentSources      string
	RightsTitle, RightsHow                             string
	Rights                                             []right
	ComplaintTitle, ComplaintText                      string
	ComplaintOnline, ComplaintPost                     string
	Colon                                              string
	yearOne, yearMany, monthOne, monthMany             string
	dayOne, dayMany, dateTimeFmt                       string
}

type right struct{ Name, Article, Text string }

// label returns the words for code in t's language, or code itself.
func (t *texts) label(m map[string]label, code string) string {
	if code == "" {
		return "—"
	}
	l, ok := m[code]
	if !ok {
		return code
	}
	if t.lang == "fr" {
		return l.fr
	}
	return l.en
}

// category returns the words for a field category.
func (t *texts) category(c string) string {
	if c == "" {
		return t.NoCategory
	}
	return t.label(categoryLabels, c)
}

// action returns the words for an audit action.
func (t *texts) action(a string) string {
	if _, ok := actionLabels[a]; !ok && strings.HasPrefix(a, "request.") {
		a = "request.*"
	}
	return t.label(actionLabels, a)
}

// date formats the day of tm, in UTC: "1er mars 2025", "1 March 2025".
func (t *texts) date(tm time.Time) string {
	if tm.IsZero() {
		return "—"
	}
	tm = tm.UTC()
	day := fmt.Sprint(tm.Day())
	if t.lang == "fr" && tm.Day() == 1 {
		day = "1er"
	}
	return fmt.Sprintf("%s %s %d", day, t.months[tm.Month()-1], tm.Year())
}

// dateTime formats tm to the minute, in UTC.
func (t *texts) dateTime(tm time.Time) string {
	if tm.IsZero() {
		return "—"
	}
	return fmt.Sprintf(t.dateTimeFmt, t.date(tm), tm.UTC().Format("15:04"))
}

// retention turns an ISO 8601 duration of the schema into words: P3Y is
// "3 ans", "3 years".
func (t *texts) retention(iso string) string {
	if iso == "" {
		return t.NotSet
	}
	r, err := vault.ParseRetention(iso)
	if err != nil {
		return iso
	}
	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	switch {
	case r.Years > 0:
		return plural(r.Years, t.yearOne, t.yearMany)
	case r.Months > 0:
		return plural(r.Months, t.monthOne, t.monthMany)
	}
	return plural(r.Days, t.dayOne, t.dayMany)
}

var fr = &texts{
	lang:   "fr",
	months: [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	Title:  "Vos données personnelles", Controller: "Responsable du traitement", Request: "Votre demande",
	Reference: "Référence de la demande", Received: "Reçue le", Generated: "Document établi le",
	Record: "Référence de votre fiche",
	Files: "Ce dossier contient aussi data.json et data.csv : les mêmes données dans un format structuré, " +
		"lisible par machine, que vous pouvez transmettre à un autre organisme (droit à la portabilité).",
	DataTitle: "Les données que nous détenons sur vous", ColField: "Donnée", ColValue: "Valeur", ColCategory: "Catégorie",
	NoData:       "Nous ne détenons aucune donnée sur vous.",
	SpecialBadge: "catégorie particulière (art. 9 RGPD)",
	SpecialNote: "Les données marquées « catégorie particulière » relèvent de l'article 9 du RGPD (par exemple les " +
		"opinions politiques, la santé, les convictions religieuses) : elles bénéficient d'une protection renforcée.",
	ConsentsTitle: "Vos consentements", ColConsent: "Consentement", ColStatus: "État", ColDate: "Date",
	ColSource: "Recueilli par", ColProof: "Preuve", NoConsents: "Aucun consentement enregistré.",
	Granted: "donné", Refused: "refusé ou retiré",
	PurposesTitle:   "Finalités du traitement",
	PurposesIntro:   "Vos données ne sont utilisées que pour les finalités suivantes, chacune pour les seules données indiquées.",
	NoPurposes:      "Aucune finalité n'est déclarée pour ces données.",
	CategoriesTitle: "Catégories de données", NoCategory: "non classée",
	RecipientsTitle: "Destinataires", NoRecipients: "Aucun destinataire en dehors du responsable du traitement.",
	AccessesTitle: "Qui a consulté ou modifié votre fiche",
	AccessesIntro: "Chaque opération sur votre fiche est inscrite dans un journal dont toute altération se détecte. Les voici.",
	NoAccesses:    "Aucune opération enregistrée.",
	ColRole:       "Fonction", ColAction: "Opération", ColPurpose: "Finalité", ColFields: "Données concernées",
	RetentionTitle: "Durée de conservation",
	RetentionIntro: "Chaque donnée est conservée pendant la durée indiquée à compter de notre dernier contact avec vous, puis effacée.",
	ColRetention:   "Durée", NotSet: "non précisée",
	SourceTitle:      "Origine des données",
	SourceController: "Ces données ont été enregistrées par %s.",
	ConsentSources:   "Vos consentements ont été recueillis par :",
	RightsTitle:      "Vos droits (articles 15 à 21 du RGPD)",
	RightsHow: "Pour exercer ces droits, adressez-vous à %s. Une réponse vous est due dans un délai d'un mois, " +
		"qui peut être prolongé de deux mois si la demande est complexe ; vous en êtes alors informé.",
	Rights: []right{
		{"Droit d'accès", "art. 15", "savoir si des données vous concernant sont traitées et en obtenir une copie, ce que vous tenez ici."},
		{"Droit de rectification", "art. 16", "faire corriger des données inexactes et compléter des données incomplètes."},
		{"Droit à l'effacement", "art. 17", "faire effacer vos données, sauf si la loi nous oblige à les conserver."},
		{"Droit à la limitation", "art. 18", "faire suspendre l'utilisation de vos données, par exemple le temps de vérifier leur exactitude."},
		{"Droit à la portabilité", "art. 20", "recevoir les données que vous nous avez fournies dans un format structuré et lisible par machine, et les transmettre à un autre organisme."},
		{"Droit d'opposition", "art. 21", "vous opposer à tout moment à l'utilisation de vos données, notamment à des fins de prospection."},
		{"Retrait du consentement", "art. 7.3", "retirer à tout moment un consentement donné, aussi simplement que vous l'avez donné ; cela ne remet pas en cause l'utilisation faite auparavant."},
	},
	ComplaintTitle: "Réclamation auprès de la CNIL",
	ComplaintText: "Si vous estimez que vos droits ne sont pas respectés, vous pouvez adresser une réclamation à la " +
		"Commission nationale de l'informatique et des libertés (CNIL).",
	ComplaintOnline: "En ligne :", ComplaintPost: "Par courrier :",
	Colon:   "\u00a0: ",
	yearOne: "an", yearMany: "ans", monthOne: "mois", monthMany: "mois", dayOne: "jour", dayMany: "jours",
	dateTimeFmt: "%s à %s UTC",
}

var en = &texts{
	lang:   "en",
	months: [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	Title:  "Your personal data", Controller: "Controller", Request: "Your request",
	Reference: "Request reference", Received: "Received on", Generated: "Document produced on",
	Record: "Reference of your record",
	Files: "This folder also holds data.json and data.csv: the same data in a structured, machine-readable " +
		"format that you may pass on to another organisation (right to data portability).",
	DataTitle: "The data we hold about you", ColField: "Data", ColValue: "Value", ColCategory: "Category",
	NoData:       "We hold no data about you.",
	SpecialBadge: "special category (GDPR Art. 9)",
	SpecialNote: "Data marked \"special category\" fall under Article 9 of the GDPR (for instance political opinions, " +
		"health, religious beliefs): they receive reinforced protection.",
	ConsentsTitle: "Your consents", ColConsent: "Consent", ColStatus: "Status", ColDate: "Date",
	ColSource: "Collected through", ColProof: "Proof", NoConsents: "No consent recorded.",
	Granted: "given", Refused: "refused or withdrawn",
	PurposesTitle:   "Purposes of processing",
	PurposesIntro:   "Your data are used only for the following purposes, each for the data listed only.",
	NoPurposes:      "No purpose is declared for these data.",
	CategoriesTitle: "Categories of data", NoCategory: "uncategorised",
	RecipientsTitle: "Recipients", NoRecipients: "No recipient other than the controller.",
	AccessesTitle: "Who read or changed your record",
	AccessesIntro: "Every operation on your record is written to a tamper-evident log. Here they are.",
	NoAccesses:    "No operation recorded.",
	ColRole:       "Role", ColAction: "Operation", ColPurpose: "Purpose", ColFields: "Data concerned",
	RetentionTitle: "Retention period",
	RetentionIntro: "Each item is kept for the period shown after our last contact with you, then erased.",
	ColRetention:   "Period", NotSet: "not specified",
	SourceTitle:      "Source of the data",
	SourceController: "These data were recorded by %s.",
	ConsentSources:   "Your consents were collected through:",
	RightsTitle:      "Your rights (GDPR Articles 15 to 21)",
	RightsHow: "To exercise these rights, contact %s. You are owed an answer within one month, which may be " +
		"extended by two months for a complex request; you are then told so.",
	Rights: []right{
		{"Right of access", "Art. 15", "to know whether data about you are processed and to get a copy of them, which you are holding."},
		{"Right to rectification", "Art. 16", "to have inaccurate data corrected and incomplete data completed."},
		{"Right to erasure", "Art. 17", "to have your data erased, unless the law obliges us to keep them."},
		{"Right to restriction", "Art. 18", "to have the use of your data suspended, for instance while their accuracy is checked."},
		{"Right to data portability", "Art. 20", "to receive the data you gave us in a structured, machine-readable format, and to pass them on to another organisation."},
		{"Right to object", "Art. 21", "to object at any time to the use of your data, in particular for canvassing and mailings."},
		{"Withdrawal of consent", "Art. 7(3)", "to withdraw a consent at any time, as easily as you gave it; this does not affect the use made of it before."},
	},
	ComplaintTitle: "Complaint to the CNIL",
	ComplaintText: "If you consider that your rights are not respected, you may lodge a complaint with the French " +
		"data protection authority, the Commission nationale de l'informatique et des libertés (CNIL).",
	ComplaintOnline: "Online:", ComplaintPost: "By post:",
	Colon:   ": ",
	yearOne: "year", yearMany: "years", monthOne: "month", monthMany: "months", dayOne: "day", dayMany: "days",
	dateTimeFmt: "%s, %s UTC",
}

var requestLabels = map[string]label{
	vault.RequestAccess:      {"droit d'accès (article 15 du RGPD)", "right of access (GDPR Article 15)"},
	vault.RequestPortability: {"droit à la portabilité (article 20 du RGPD)", "right to data portability (GDPR Article 20)"},
}

// fieldLabels name the fields of the default schema; a tenant's own
// fields show their code.
var fieldLabels = map[string]label{
	"given_name":    {"Prénom", "Given name"},
	"family_name":   {"Nom", "Family name"},
	"email":         {"Adresse électronique", "Email address"},
	"phone":         {"Téléphone", "Phone"},
	"address":       {"Adresse postale", "Postal address"},
	"postal_code":   {"Code postal", "Postal code"},
	"district":      {"Quartier", "District"},
	"birth_date":    {"Date de naissance", "Date of birth"},
	"interests":     {"Centres d'intérêt", "Interests"},
	"support_level": {"Niveau de soutien", "Level of support"},
	"notes":         {"Notes", "Notes"},
}

// valueLabels name the values of the default schema's enum fields; other
// values show as they are.
var valueLabels = map[string]map[string]label{
	"support_level": {
		"strong_support": {"Soutien fort", "Strong support"},
		"support":        {"Soutien", "Support"},
		"undecided":      {"Indécis", "Undecided"},
		"oppose":         {"Opposé", "Opposed"},
		"strong_oppose":  {"Fortement opposé", "Strongly opposed"},
	},
}

var categoryLabels = map[string]label{
	"identity":             {"Identité", "Identity"},
	"contact":              {"Coordonnées", "Contact details"},
	"location":             {"Localisation", "Location"},
	"demographic":          {"Données démographiques", "Demographic data"},
	"preferences":          {"Préférences", "Preferences"},
	"free_text":            {"Texte libre", "Free text"},
	"political_opinion":    {"Opinions politiques", "Political opinions"},
	"health":               {"Santé", "Health"},
	"religious_belief":     {"Convictions religieuses", "Religious beliefs"},
	"philosophical_belief": {"Convictions philosophiques", "Philosophical beliefs"},
	"ethnic_origin":        {"Origine raciale ou ethnique", "Racial or ethnic origin"},
	"trade_union":          {"Appartenance syndicale", "Trade union membership"},
	"sexual_orientation":   {"Vie ou orientation sexuelle", "Sex life or sexual orientation"},
	"genetic":              {"Données génétiques", "Genetic data"},
	"biometric":            {"Données biométriques", "Biometric data"},
}

var purposeLabels = map[string]label{
	"casework":   {"Suivi de vos demandes et dossiers", "Following up your requests and cases"},
	"newsletter": {"Lettre d'information", "Newsletter"},
	"canvassing": {"Porte-à-porte et prise de contact", "Canvassing"},
	"events":     {"Invitations aux événements", "Event invitations"},
	"dsr":        {"Réponse à vos demandes sur vos données", "Answering your data-protection requests"},
	"statistics": {"Statistiques", "Statistics"},
}

var consentLabels = map[string]label{
	"newsletter": {"Lettre d'information", "Newsletter"},
	"sms":        {"SMS", "Text messages"},
	"events":     {"Invitations aux événements", "Event invitations"},
}

var roleLabels = map[string]label{
	vault.RoleAdmin:     {"Administrateur", "Administrator"},
	vault.RoleDPO:       {"Délégué à la protection des données", "Data protection officer"},
	vault.RoleAgent:     {"Agent", "Staff member"},
	vault.RoleVolunteer: {"Bénévole", "Volunteer"},
	vault.RoleCitizen:   {"Vous-même", "Yourself"},
}

var actionLabels = map[string]label{
	vault.ActionContactCreate:  {"Création de la fiche", "Record created"},
	vault.ActionContactRead:    {"Consultation", "Read"},
	vault.ActionContactSearch:  {"Recherche", "Search"},
	vault.ActionContactUpdate:  {"Modification", "Update"},
	vault.ActionContactErase:   {"Effacement", "Erasure"},
	vault.ActionContactSegment: {"Sélection dans une liste", "Selected in a list"},
	vault.ActionContactExport:  {"Export", "Export"},
	"contact.load":             {"Import", "Import"},
	"request.*":                {"Traitement de votre demande", "Handling of your request"},
}
