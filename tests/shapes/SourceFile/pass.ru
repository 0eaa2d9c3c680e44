PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s ak:bronbestand ?o } INSERT { ?s ak:bronbestand "docs/voldoen-aan-wetten-en-regels/vereisten/tst-01-voorbeeld.md" }
WHERE { ?s ak:bronbestand ?o FILTER (?s = <urn:nl:ak:ver:tst-01>) }
