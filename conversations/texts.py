"""Every resident-facing string, in one module so it can be translated later.

Plain GSM-7 characters only (no curly quotes, dashes or emoji): each ordinary text must fit one
SMS segment once its placeholders are filled, the menu and help two.
"""

THE_CITY = "the city"
ELLIPSIS = "..."

# --- choosing a service -------------------------------------------------------------------
GREETING = "Hi! What would you like to report?"
MENU_ASK = "What would you like to report?"
MENU_HOW = "Reply with a number, or describe the problem in a few words."
MENU_MORE = "MORE for more."
MENU_AGAIN = "Sorry, I didn't catch that."
MENU_NEXT = "More services:"
CATALOGUE_DOWN = (
    "Sorry, the list of services is unavailable right now. Please try again in a few minutes."
)
SHORTLIST = "Did you mean one of these? Reply with a number, or describe it another way."
NUMBER_RANGE = "Please reply with a number from 1 to {count}."
SERVICE_TAKEN = "Got it: {service}."
PIN_FIRST = "Thanks for the location. What would you like to report?"
PIN_TAKEN = "Thanks, I have the location."
PIN_UPDATED = "Location updated."
SHARED_LOCATION = "the location you shared"
PHOTO_FIRST = "Thanks for the photo. What would you like to report?"
PHOTO_ADDED = "Photo added."
OLD_BUTTON = "That button is from an earlier message."

# --- location ----------------------------------------------------------------------------
ASK_LOCATION = "Where is it? Send the street address (e.g. 120 Main St)."
ADDRESS_FOUND = "I found: {address}. Is that right? Reply YES or NO."
ADDRESS_NOT_FOUND = (
    "I couldn't find that address in {city}. "
    "Please send a street address with a house number, or a cross street."
)
ADDRESS_UNCHECKED = "I can't check addresses right now, so I'll use the address as you typed it."
ASK_LOCATION_EMPTY = "Please send the street address as text (e.g. 120 Main St)."
ASK_YES_NO = "Please reply YES or NO."

# --- description and confirmation --------------------------------------------------------
ASK_DESCRIPTION = "Please describe the problem in a few words."
CONFIRM = (
    'Ready to send: {service} at {address}: "{description}". Reply YES to send or NO to cancel.'
)
SENDING = "Thanks! Sending your report to the city now. We'll text you the request number."
CANCELLED = "Report cancelled. Text us any time to start a new one."

# --- the service's questions (hints end without a full stop: ", or SKIP." may follow) -------
HINT_CHOICE = "Reply with a number"
HINT_CHOICES = "Reply with one or more numbers, e.g. 1 3"
HINT_NUMBER = "Reply with a number"
HINT_DATETIME = "Reply e.g. today 5pm or 11/20 3pm"
OR_SKIP = ", or SKIP"
SKIP_ONLY = "Or reply SKIP"
ANSWER_NEEDED = "This one is needed, please answer."
BAD_CHOICE = "Please reply with a number from 1 to {count}"
BAD_CHOICES = "Please reply with one or more numbers from 1 to {count}, e.g. 1 3"
BAD_NUMBER = "Please reply with a number"
BAD_DATETIME = "Please reply with a day and time, e.g. today 5pm or 11/20 3pm"

# --- commands ----------------------------------------------------------------------------
HELP = (
    "Text STATUS and a request number (e.g. STATUS 12345) to check a request, "
    "RESTART to drop the report you are making, STOP to end all texts."
)
STATUS_WHICH = "Which request? Text STATUS and the request number, e.g. STATUS 12345."
STATUS_FOUND = "Request {number} ({service}): {status}{notes}"
STATUS_FOUND_BARE = "Request {number}: {status}{notes}"
STATUS_NOT_FOUND = "I couldn't find request {number}."
STATUS_UNAVAILABLE = "I can't reach the city's system right now; please try again later."

# --- notices sent outside a turn ---------------------------------------------------------
REPORT_FILED = (
    "Your {service} report was received by the city. Request number: {number}. "
    "Text STATUS {number} any time."
)
REPORT_DELAYED = (
    "The city's system is not answering. Your report is saved and will be sent when it is "
    "back; we'll text you the request number."
)
REPORT_REJECTED = (
    "Sorry, the city could not accept your report: {reason} Text us to start a new one."
)
STATUS_CHANGED = "Update on request {number} ({service}): {status}{notes}"
STATUS_CHANGED_BARE = "Update on request {number}: {status}{notes}"
EXPECTED = " Expected by {date}."
REPORT_DEFAULT_SERVICE = "311"
