PREFIX ak: <urn:nl:ak:def:>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
DELETE { ?s ?p ?o } INSERT { <urn:nl:ak:mtr:tst-09> ?p ?o } WHERE { ?s ?p ?o FILTER (?s = <urn:nl:ak:mtr:tst-01>) } ;
DELETE { ?s ?p ?o } INSERT { ?s ?p <urn:nl:ak:mtr:tst-09> } WHERE { ?s ?p ?o FILTER (?o = <urn:nl:ak:mtr:tst-01>) }
