PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s ?p ?o } INSERT { <urn:nl:ak:ver:tst-01#de-vereiste> ?p ?o } WHERE { ?s ?p ?o FILTER (?s = <urn:nl:ak:ver:tst-01#vereiste>) } ;
DELETE { ?s ?p ?o } INSERT { ?s ?p <urn:nl:ak:ver:tst-01#de-vereiste> } WHERE { ?s ?p ?o FILTER (?o = <urn:nl:ak:ver:tst-01#vereiste>) }
