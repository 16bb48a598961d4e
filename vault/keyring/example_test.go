package keyring_test

import (
	"fmt"
	"log"

	"github.com/coffre/coffre/vault/keyring"
)

func Example() {
	// The operator's root key: keyring.LoadRootKeyFile or
	// keyring.ParseRootKey in production.
	root, err := keyring.GenerateRootKey()
	if err != nil {
		log.Fatal(err)
	}
	kr, err := keyring.New(root)
	if err != nil {
		log.Fatal(err)
	}
	root.Destroy()

	// A tenant's key set is created once and stored sealed.
	sealedSet, err := kr.NewTenantKeys("mairie-de-lyon")
	if err != nil {
		log.Fatal(err)
	}
	tk, err := kr.OpenTenantKeys("mairie-de-lyon", sealedSet)
	if err != nil {
		log.Fatal(err)
	}

	// A subject's data key is stored only wrapped; its fields are sealed.
	key, wrapped, err := tk.NewSubjectKey("contact-42")
	if err != nil {
		log.Fatal(err)
	}
	ct, err := key.Seal("email", []byte("jeanne@example.org"))
	if err != nil {
		log.Fatal(err)
	}
	index := tk.BlindIndex("email", "jeanne@example.org")

	// Later: unwrap the key and open the field.
	key2, err := tk.OpenSubjectKey("contact-42", wrapped)
	if err != nil {
		log.Fatal(err)
	}
	pt, err := key2.Open("email", ct)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(pt), len(index), key2)

	// The same ciphertext read as another field fails.
	_, err = key2.Open("phone", ct)
	fmt.Println(err)
	// Output:
	// jeanne@example.org 32 keyring.SubjectKey(redacted)
	// keyring.Open: wrong key, field, subject or tenant, or altered: keyring: decryption failed
}
