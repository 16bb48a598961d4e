package vault

import "encoding/json"

// DecodeList is decodeList, for the tests of vault_test.
func DecodeList(pt []byte) ([]string, error) { return decodeList(pt) }

// FastList is the reader decodeList tries before json.Unmarshal.
func FastList(pt []byte) ([]string, bool) { return fastList(pt) }

// DecodeSealedConsent is decodeSealedConsent, returning the fields of the
// sealedConsent.
func DecodeSealedConsent(pt []byte) (source, proof string, err error) {
	sc, err := decodeSealedConsent(pt)
	return sc.Source, sc.Proof, err
}

// FastSealedConsent is the reader decodeSealedConsent tries before
// json.Unmarshal.
func FastSealedConsent(pt []byte) (source, proof string, ok bool) {
	sc, ok := fastSealedConsent(pt)
	return sc.Source, sc.Proof, ok
}

// UnmarshalSealedConsent is what open did before decodeSealedConsent:
// json.Unmarshal into a sealedConsent.
func UnmarshalSealedConsent(pt []byte) (source, proof string, err error) {
	var sc sealedConsent
	err = json.Unmarshal(pt, &sc)
	return sc.Source, sc.Proof, err
}

// MarshalSealedConsent is how seal encodes the sealed part of a consent.
func MarshalSealedConsent(source, proof string) []byte {
	b, _ := json.Marshal(sealedConsent{Source: source, Proof: proof})
	return b
}
