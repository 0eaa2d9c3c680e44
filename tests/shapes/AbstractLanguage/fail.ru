PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s dcterms:abstract ?o } INSERT { ?s dcterms:abstract "A sample topic." }
WHERE { ?s dcterms:abstract ?o FILTER (?s = <urn:nl:ak:ond:data>) }
