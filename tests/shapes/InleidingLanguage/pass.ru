PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s ak:inleiding ?o } INSERT { ?s ak:inleiding "# Gegevens"@nl }
WHERE { ?s ak:inleiding ?o FILTER (?s = <urn:nl:ak:ond:data>) }
