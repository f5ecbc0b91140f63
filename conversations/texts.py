"""Every resident-facing string, in English; each is the msgid of its translations.

Translations live in locales/<code>.po (msgid: the English text here). Plain GSM-7 characters
only (no curly quotes, dashes or emoji): each ordinary text must fit one SMS segment once its
placeholders are filled, the menu, help and summary two. Words in capitals (YES, SKIP, STATUS)
are what the resident types: a translation may keep them or use its own word, which the
language's word lists then accept.
"""

THE_CITY = "the city"
ELLIPSIS = "..."

# --- choosing a service -------------------------------------------------------------------
GREETING = "Hi! What would you like to report?"
MENU_ASK = "What would you like to report?"
MENU_HOW = "Reply with a number, or describe the problem in a few words."
MENU_MORE = "MORE for more."
MENU_OTHER = "OTHER for all types."
GROUPS_ASK = "Which kind of problem? Reply with a number."
MENU_AGAIN = "Sorry, I didn't catch that."
MENU_NEXT = "More services:"
CATALOGUE_DOWN = (
    "Sorry, the list of services is unavailable right now. Please try again in a few minutes."
)
SHORTLIST = "Did you mean one of these? Reply with a number, or OTHER for the full list."
NUMBER_RANGE = "Please reply with a number from 1 to {count}."
SERVICE_TAKEN = "Got it: {service}."
PIN_FIRST = "Thanks for the location. What would you like to report?"
PIN_TAKEN = "Thanks, I have the location."
PIN_NEAR = "Thanks, I have the location: near {address}."  # a pin read back as an address
PIN_UPDATED = "Location updated."
SHARED_LOCATION = "The location you shared"
PHOTO_FIRST = "Thanks for the photo. What would you like to report?"
PHOTO_ADDED = "Photo added."
OLD_BUTTON = "That button is from an earlier message."
# Button labels, on channels that show buttons.
YES_BUTTON = "Yes"
NO_BUTTON = "No"
PRIVATE_BUTTON = "Private"  # send without the resident's contact details
SHARE_LOCATION_BUTTON = "Share location"

# --- location ----------------------------------------------------------------------------
ASK_LOCATION = "Where is it? Send the street address (e.g. 120 Main St)."
ADDRESS_FOUND = "I found: {address}. Is that right? Reply YES or NO."
ADDRESS_TAKEN = "Found: {address}."
ADDRESS_NOT_FOUND = (
    "I couldn't find that address in {city}. "
    "Please send a street address with a house number, or a cross street."
)
ADDRESS_UNCHECKED = "I can't check addresses right now, so I'll use the address as you typed it."
# Where the resident's photo was taken (its GPS), offered when no location is known yet.
PHOTO_PLACE = "Your photo was taken near {address}. Is that where the problem is? Reply YES or NO."
PHOTO_PLACE_PLAIN = (
    "Your photo has a location in it. Is that where the problem is? Reply YES or NO."
)
ASK_LOCATION_EMPTY = "Please send the street address as text (e.g. 120 Main St)."
# Several places found for what was typed: a numbered choice (conversations/locating.py).
ADDRESS_CHOICES = "I found several places. Reply with the number, or send the address again."
ADDRESS_CHOICE_HOW = "Please reply with one of the numbers, or send the address again."
# Open requests of the same service near the place, offered before the summary
# (conversations/nearby.py): one line each, then the resident's own report as the last option.
NEARBY_OFFER = "This may already be reported. Reply with its number to follow it instead:"
NEARBY_LINE = "{address} ({day}): {status}"  # the day reported; the service is the resident's
NEARBY_LINE_UNDATED = "{address}: {status}"  # the city gave no date
NEARBY_AWAY = "about {metres} m away"  # in a line, where the city gave no address
NEARBY_NONE = "None of these: send my report"
NEARBY_FOLLOWING = (
    "Thanks! You now follow request {number}, so no new report was sent. "
    "I'll text you when its status changes."
)
# Every place found (or the pin shared) is outside the city's limits.
OUTSIDE_CITY = "That is outside {city}."
OUTSIDE_CITY_SUGGEST = (
    "Please contact the city or county where it is, or send an address in {city}."
)
ASK_YES_NO = "Please reply YES or NO."

# --- description and confirmation --------------------------------------------------------
ASK_DESCRIPTION = "Please describe the problem in a few words."
CONFIRM = 'Ready to send:\n1 {service}\n2 {address}\n3 "{description}"'
# Not "cancel": CANCEL is an opt-out word (carriers and we stop every message on it).
CONFIRM_HOW = "Reply YES to send, 1-3 to change, or NO to drop it."
CONFIRM_HOW_DETAILS = "Reply YES to send, 1-3 to change, 4 to add details, or NO to drop it."
# Asked in the first summary only: the answer is kept for every later report.
CONFIRM_CONSENT = (
    "With YES the city may contact you about your reports; PRIVATE sends it without your "
    "contact details."
)
EDIT_WHICH = "Reply 1 to change the type, 2 the location or 3 the description."
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
    "Text STATUS and a request number (e.g. STATUS 12345) to check a request, MY REPORTS "
    "for yours, BACK to go back, RESTART to start over, LANGUAGE to change language, "
    "STOP to end all texts."
)
# The command menu some channels show (Telegram's "/" menu).
COMMAND_HELP = "What you can send"
COMMAND_RESTART = "Drop the report you are making"
COMMAND_BACK = "Go back one question"
COMMAND_STATUS = "Check a request: /status 12345"
COMMAND_MY_REPORTS = "Your reports and their status"
COMMAND_LANGUAGE = "Change the language"
BACK_NONE = "There is nothing to go back to."
OPTED_OUT = "You will get no more messages from us. Send START to come back."
LANGUAGE_ASK = "Which language? Reply with a number."
LANGUAGE_SET = "OK, I will write in {language}."
EMERGENCY = (
    "If this is an emergency, call {number} now. This service is only for non-emergency problems."
)
MY_REPORTS = "Your reports:"
MY_REPORTS_NONE = "You have no reports with us yet."
MY_REPORTS_UNAVAILABLE = "I can't look up your reports right now; please try again later."
MY_REPORT_LINE = "{number} {service}: {status}"
MY_REPORT_PENDING = "not sent yet"
NUMBER_PENDING = "(no number yet)"

# --- a conversation left idle ------------------------------------------------------------
PAUSED = "I've saved your {service} report. Text us any time to finish it."
PAUSED_PLAIN = "I've saved your report. Text us any time to finish it."
CLOSED = "Closing this chat for now. Text us any time to report a problem."
ASK_RESUME = "You have an unfinished {service} report. Reply YES to finish it or NO to drop it."
ASK_RESUME_PLAIN = "You have an unfinished report. Reply YES to finish it or NO to drop it."

STATUS_WHICH = "Which request? Text STATUS and the request number, e.g. STATUS 12345."
STATUS_FOUND = "Request {number} ({service}): {status}{notes}"
STATUS_FOUND_BARE = "Request {number}: {status}{notes}"
STATUS_NOT_FOUND = "I couldn't find request {number}."
# The resident's own filed report, which the city does not show yet (it moderates new ones).
STATUS_NOT_PUBLISHED = (
    "Request {number} is with the city but not published yet; I'll text you when it changes."
)
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
# Not sent yet for another reason than the city being down (it waits for staff).
REPORT_SAVED = (
    "Your report is saved and will be sent to the city shortly; we'll text you the request number."
)
# Public replies to a resident's public post that mentioned the city (X, Mastodon): fixed words
# with nothing of the resident; the report itself is taken in private messages.
PUBLIC_INVITE = (
    "Thanks for telling us. We will take your report in a private message: please answer "
    "there, so your details stay private."
)
PUBLIC_FILED = "Thanks, your report is filed with the city as request {number}."
REPORT_REJECTED = (
    "Sorry, the city could not accept your report: {reason} Text us to start a new one."
)
STATUS_CHANGED = "Update on request {number} ({service}): {status}{notes}"
STATUS_CHANGED_BARE = "Update on request {number}: {status}{notes}"
EXPECTED = " Expected by {date}."
REPORT_DEFAULT_SERVICE = "311"

# --- DELETE MY DATA (the worker's, bot/jobs/turn_forget.py) -------------------------------
FORGET_ASK = (
    "Delete everything we keep about you: messages, your number, your reports' details? "
    "The city keeps its copy of reports it has. Reply YES to delete or NO to keep it."
)
FORGOTTEN = (
    "Deleted: {messages} messages, your contact details and the details of {reports} "
    "reports. Text us any time to start again."
)
FORGET_KEPT = "OK, nothing was deleted."

# --- abuse limits (bot.ratelimits) --------------------------------------------------------
# Sent once when a resident's messages are past a limit (their messages are then stored and not
# answered until the limit's window has passed), or their replies for the day are used up.
TOO_MANY = (
    "You've sent more messages than I can answer right now. Please wait a while before "
    "texting again. In an emergency, call {number}."
)

# --- human handoff (AGENT, or not understood twice running) -------------------------------
# Staff are in: the bot stays quiet until they hand the conversation back.
HANDOFF_OPEN = "I'm passing you to a person from {city}; they will answer here."
HANDOFF_UNCLEAR = "Sorry, I'm not understanding you."  # before HANDOFF_OPEN, not understood
# Staff are out (HANDOFF_HOURS): the city's HANDOFF_CLOSED_TEXT, else this; the bot carries on.
HANDOFF_CLOSED = (
    "Our staff are not in now (hours: {hours}). They will see your message then; "
    "meanwhile I can take your report."
)
HANDOFF_OFF = "Sorry, I can't pass you to a person here. For help, call 311."
HANDOFF_TAKEN = "A person from {city} is answering you now."
HANDOFF_BACK = "You're back with the automated assistant."
HANDOFF_BACK_IDLE = (
    "You're back with the automated assistant. Text us any time to report a problem."
)
# Nobody took the conversation within HANDOFF_WAIT_MINUTES: back to the bot.
HANDOFF_NO_ANSWER = "Sorry, no one from {city} is free to answer now; staff will see your messages."
