PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s ?p ?o } INSERT { <urn:nl:ak:pag:Index> ?p ?o } WHERE { ?s ?p ?o FILTER (?s = <urn:nl:ak:pag:index>) } ;
DELETE { ?s ?p ?o } INSERT { ?s ?p <urn:nl:ak:pag:Index> } WHERE { ?s ?p ?o FILTER (?o = <urn:nl:ak:pag:index>) }
