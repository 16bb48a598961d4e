// Package dsrexport builds the answer to a data-subject access (GDPR Art.
// 15) or portability (Art. 20) request: a zip archive, streamed to an
// io.Writer, that holds
//
//   - data.json, the machine-readable answer: the request, every field of
//     the record with its value, category, sensitivity, purposes and
//     retention, the consents with their detail, who accessed the record,
//     and the categories of recipients;
//   - data.csv, one row per field then one per consent, for a spreadsheet
//     (UTF-8 with a byte-order mark, cells guarded against formula
//     injection);
//   - summary.html, a self-contained page (inline style, no script, no
//     external resource) in French then English that tells the person what
//     Art. 15 requires: the data held, the purposes, the categories (Art. 9
//     special categories flagged), the recipients, who accessed the record
//     and why, how long each field is kept, where the data came from, their
//     rights and how to complain to the CNIL.
//
// The archive holds personal data in the clear: it is for the person only.
// The package does no I/O but writing to the given writer, and its errors
// never contain the data.
package dsrexport
