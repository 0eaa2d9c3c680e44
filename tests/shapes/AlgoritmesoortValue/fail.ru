PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?t ak:algoritmesoort ?a } INSERT { ?t ak:algoritmesoort <urn:nl:ak:algoritmesoort:quantum> } WHERE { ?t ak:algoritmesoort ?a }
