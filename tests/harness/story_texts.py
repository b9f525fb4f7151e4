"""Two news texts for story tests: a wire report, and the same event told in other words (which must
not join the wire's story)."""

from __future__ import annotations

WIRE = (
    "Belarusian leader Alexander Lukashenko held a meeting on Saturday with detained opposition leaders in a Minsk "
    "prison. The bizarre yet officially reported meeting saw the strongman sit down with opponents he has jailed "
    "for months during anti-government protests against his disputed August 9 election win. The state-run Belta "
    "news agency cited an official government photo showing Lukashenko sat around a table with 11 casually-dressed "
    "people. The picture shows opposition politician Viktor Babariko sat to the left of the president. Babariko was "
    "barred from running in the election and was detained in July along with his son. The opposition, however, "
    "described the visit as a sign of weakness. Belarus has seen two months of protests since the contested poll."
)
SAME_EVENT = (
    "Alexander Lukashenko went to a KGB jail in Minsk on Saturday to talk with imprisoned critics, state media said. "
    "Among those at the table was Viktor Babariko, a former banker kept off the ballot in August. Opponents of the "
    "president said the unusual talks showed how weak his position had become after weeks of street protests."
)
