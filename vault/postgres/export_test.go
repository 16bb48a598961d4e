package postgres

// MapError exposes mapError to the external tests.
var MapError = mapError

// ConsentsJSON and ParseConsents expose the consents codec to the tests.
var (
	ConsentsJSON  = consentsJSON
	ParseConsents = parseConsents
)
