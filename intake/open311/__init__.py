"""Open311 GeoReport v2: the standard API of city service-request systems, as a channel.

``urls`` maps the spec's resources, ``views`` reads requests and calls the intake
service, ``formats`` writes the spec's XML and JSON documents.
"""
