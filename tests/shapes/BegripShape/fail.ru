PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s ?p ?o } INSERT { <urn:nl:ak:begrip:Algoritme> ?p ?o } WHERE { ?s ?p ?o FILTER (?s = <urn:nl:ak:begrip:algoritme>) } ;
DELETE { ?s ?p ?o } INSERT { ?s ?p <urn:nl:ak:begrip:Algoritme> } WHERE { ?s ?p ?o FILTER (?o = <urn:nl:ak:begrip:algoritme>) }
