PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE DATA { <urn:nl:ak:begrip:algoritme> skos:inScheme <urn:nl:ak:begrip> }
