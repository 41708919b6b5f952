// Package i18n holds the pages' message catalogs (en.json, de.json: one key
// per text, a plural as an object of CLDR plural forms) and picks the
// language of a request: the "lang" cookie that the language switch sets,
// else the best match of Accept-Language (RFC 9110 §12.5.4, matched with
// golang.org/x/text/language's matcher, which knows that de-AT is German),
// else English. Messages are formatted by golang.org/x/text/message, plurals
// chosen by golang.org/x/text/feature/plural under each language's CLDR
// rules.
package i18n
