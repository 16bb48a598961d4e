module github.com/coffre/coffre

go 1.26.8

require (
	github.com/go-chi/chi/v5 v5.5.0
	golang.org/x/text v0.44.0
)
