package dsrexport_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"log"
	"time"

	"github.com/coffre/coffre/vault"
	"github.com/coffre/coffre/vault/dsrexport"
)

func ExampleWrite() {
	a := &dsrexport.Answer{
		GeneratedAt: time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC),
		Controller:  "Mairie de Lyon",
		Request:     dsrexport.Request{ID: "req_01J9", Type: vault.RequestAccess, ReceivedAt: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
		Contact: &vault.ContactView{ID: "ct_8f3a", Fields: map[string]any{
			"given_name": "Jeanne",
			"interests":  []string{"vélo", "jardinage"},
		}},
		Schema:     vault.DefaultSchema(),
		Recipients: []string{"agents de la mairie / town hall staff"},
	}
	// In an HTTP handler, w is the response: the archive streams to it.
	var buf bytes.Buffer
	if err := dsrexport.Write(&buf, a); err != nil {
		log.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range zr.File {
		fmt.Println(f.Name)
	}
	// Output:
	// data.json
	// data.csv
	// summary.html
}
