PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s dcterms:title ?o } INSERT { ?s dcterms:title "Een andere titel"@nl }
WHERE { ?s dcterms:title ?o FILTER (?s = <urn:nl:ak:ver:tst-01>) }
