// Package mail sends the e-mails of data-subject requests: the one-time
// codes that check a person holds the address on file, and the notices
// that their request was answered.
//
// A Sender delivers a Message. NewSMTP returns one that hands each message
// to an SMTP relay named by a URL:
//
//	smtp://user:pass@host:587?from=dpo@mairie.fr           STARTTLS
//	smtps://user:pass@host:465?from=dpo@mairie.fr          implicit TLS
//	smtp+insecure://127.0.0.1:25?from=dpo@mairie.fr        no TLS, loopback only
//
// NewOutbox returns one that writes each message as an RFC 5322 .eml file
// in a folder, so that an installation without a relay still shows what it
// would have sent.
//
// Messages are personal data: a recipient's address, and a text that may
// hold a one-time code. No error of this package contains either, nor the
// relay's password; an SMTP server's reply text, which often echoes the
// recipient, is dropped and only its code kept (see ReplyError). Errors
// name the step that failed, never what was sent, so they are safe to log.
package mail
