PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s ?p ?o } INSERT { <urn:nl:ak:lcf:Ontwerp> ?p ?o } WHERE { ?s ?p ?o FILTER (?s = <urn:nl:ak:lcf:ontwerp>) } ;
DELETE { ?s ?p ?o } INSERT { ?s ?p <urn:nl:ak:lcf:Ontwerp> } WHERE { ?s ?p ?o FILTER (?o = <urn:nl:ak:lcf:ontwerp>) }
