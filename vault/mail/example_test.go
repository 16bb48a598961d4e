package mail_test

import (
	"context"
	"fmt"
	"log"
	"mime"
	"net/mail"
	"os"
	"path/filepath"

	coffremail "github.com/coffre/coffre/vault/mail"
)

func ExampleNewOutbox() {
	dir, err := os.MkdirTemp("", "outbox")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// In production: coffremail.NewSMTP("smtp://user:pass@relay:587?from=dpo@mairie.fr").
	s, err := coffremail.NewOutbox(dir)
	if err != nil {
		log.Fatal(err)
	}
	err = s.Send(context.Background(), &coffremail.Message{
		To:      "jeanne.martin@example.org",
		Subject: "Votre code de vérification",
		Text:    "Votre code : 482915\n",
	})
	if err != nil {
		log.Fatal(err)
	}

	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	f, err := os.Open(files[0])
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	m, err := mail.ReadMessage(f)
	if err != nil {
		log.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	fmt.Println(m.Header.Get("To"))
	fmt.Println(subject)

	// A line break in a header is refused, and the error does not name
	// the recipient.
	err = s.Send(context.Background(), &coffremail.Message{To: "jeanne.martin@example.org\r\nBcc: x@example.org"})
	fmt.Println(err)
	// Output:
	// <jeanne.martin@example.org>
	// Votre code de vérification
	// coffre error: code=invalid message=mail: the recipient address holds a line break
}
