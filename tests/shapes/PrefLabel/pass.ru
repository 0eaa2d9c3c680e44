PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s skos:prefLabel ?o } INSERT { ?s skos:prefLabel "Gegevens"@nl }
WHERE { ?s skos:prefLabel ?o FILTER (?s = <urn:nl:ak:ond:data>) }
