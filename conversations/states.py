"""The dialogue's named states and the draft keys they use (see README.md for the diagram).

Draft keys, all JSON-safe:
    service_code, service_name  the chosen service
    description                 what the resident said (capped at 1000 characters)
    address, lat, lon           the location (lat/lon None when unchecked)
    said                        a message that produced a shortlist, reused once a service is picked
    page                        the menu page shown (absent while a shortlist is offered)
    geocode_query               set while waiting for the Geocoded answer to that query
    status_number               set while waiting for the StatusFound answer for that number
    question                    the code of the service's question being asked
    answers                     the answers so far: code -> text, a list of keys, or None (skipped)
    pin                         a shared location kept until the location is asked
    media                       the resident's photos (channel references), sent with the report
    contact                     phone/email found in the description (masked there), for the city
    history                     earlier states of this report, for BACK (newest last)
    editing                     set while a field is changed from the summary
    details                     set once the resident asked (4) to answer the optional questions
    group                       in service: the catalogue group whose services are listed
    groups                      in service: the groups offered by OTHER
    listing                     set while waiting for the ReportsListed answer
    held                        in idle and resume: a report put aside when the chat went quiet
    back_to                     in language: the state to go back to once a language is chosen
"""

IDLE = "idle"
SERVICE = "service"
LOCATION = "location"
LOCATION_CONFIRM = "location_confirm"
DESCRIPTION = "description"
QUESTIONS = "questions"
CONSENT = "consent"
CONFIRM = "confirm"
RESUME = "resume"
LANGUAGE = "language"

ALL = (
    IDLE,
    SERVICE,
    LOCATION,
    LOCATION_CONFIRM,
    DESCRIPTION,
    QUESTIONS,
    CONSENT,
    CONFIRM,
    RESUME,
    LANGUAGE,
)

DESCRIPTION_LIMIT = 1000
