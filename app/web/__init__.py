"""The HTTP side: GraphQL over HTTP, authentication, health probes, the request log and body
cap, and how uvicorn serves it all. It knows the schema only as something that executes."""
