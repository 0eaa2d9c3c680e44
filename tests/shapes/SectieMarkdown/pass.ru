PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s ak:markdown ?o } INSERT { ?s ak:markdown "Andere tekst."@nl }
WHERE { ?s ak:markdown ?o FILTER (?s = <urn:nl:ak:ver:tst-01#vereiste>) }
