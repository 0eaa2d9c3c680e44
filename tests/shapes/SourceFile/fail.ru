PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
INSERT DATA { <urn:nl:ak:ver:tst-01> ak:bronbestand "docs/elders/tst-01-kopie.md" }
