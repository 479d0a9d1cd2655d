"""Sizes AMQP imposes on what taskhook publishes, decided once for every message it builds."""

# An AMQP short string (message_id, type) holds at most 255 BYTES; 255 characters of UTF-8 can
# be four times that, and past it the publish itself fails.
SHORTSTR_BYTES = 255
# Headers travel in every frame of a message: a reason or an error text is cut to this.
MAX_HEADER_CHARS = 1024


def fits_shortstr(value: str) -> bool:
    """True when ``value`` can be an AMQP short string."""
    return len(value.encode("utf-8", "surrogatepass")) <= SHORTSTR_BYTES


def cut_to_shortstr(value: str) -> str:
    """``value`` cut to the longest prefix that is an AMQP short string, on a character boundary."""
    return value.encode("utf-8", "ignore")[:SHORTSTR_BYTES].decode("utf-8", "ignore")
