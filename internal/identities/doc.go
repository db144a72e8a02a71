// Package identities reads the identities file (GATEHOUSE_IDENTITIES_FILE),
// which ties one person's GitHub login, email addresses and Teams (AAD)
// object id together, so that a person counts once whichever channel they
// answer from, and so that notifications find a listed login's address.
//
// Parse checks the whole file and reports every problem at once, each naming
// its entry (people[3]) and line. Parse walks the YAML node tree rather than
// decoding into a struct with yaml.v3's KnownFields, so that a misspelt key
// such as "email" names its entry and the key it probably meant. Lookups are
// case-insensitive; a nil or zero Directory is empty.
package identities
