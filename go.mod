module github.com/coffre/coffre

go 1.26.8

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/transparency-dev/merkle v0.0.2
	golang.org/x/mod v0.43.0
	golang.org/x/text v0.44.0
)
