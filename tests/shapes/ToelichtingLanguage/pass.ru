PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s ak:toelichting ?o } INSERT { ?s ak:toelichting "Een vereiste."@nl }
WHERE { ?s ak:toelichting ?o FILTER (?s = <urn:nl:ak:ver:tst-01>) }
