PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
# A glossary line without a definition ("*[AI]:") is no abbreviation in Python-Markdown, so
# no content makes a term without one: the rule guards the graph builder.
DELETE DATA {
  <urn:nl:ak:begrip:algoritme> skos:definition
    "Een reeks instructies waarmee een computer uit invoer een uitkomst bepaalt."@nl
}
