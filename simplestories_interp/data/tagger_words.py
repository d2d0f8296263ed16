"""General word lists of children's stories, for the role tagger (:mod:`.tagger`).

Written by hand for plain English stories (TinyStories, SimpleStories, the user's own), and
independent of the synthetic generator's lexicon (:mod:`.lexicon`), so the tagger's precision
can be measured with and without the generator's words (docs/roles.md). Nouns are singular,
verbs in their base form: :func:`verb_forms` and :func:`noun_forms` inflect them.
"""

from __future__ import annotations


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


NAMES = _set("""lily tim timmy sue ben tom max anna mia sam lucy jack sara sarah spot kitty molly
    jane john mary bob billy joe jill amy emma zoe leo jake mike daisy rosie bella buddy
    rex fluffy tommy susie katie jenny lila ellie mittens whiskers""")
PEOPLE = _set("""girl boy man woman lady mom mommy mum mother dad daddy father grandma grandpa
    granny grandmother grandfather baby kid child children friend brother sister king queen
    prince princess teacher farmer doctor family neighbor neighbour aunt uncle cousin
    fairy witch wizard giant pirate knight monster ghost robot elf dwarf""")
ANIMALS = _set("""dog puppy cat kitten bird bunny rabbit bear fox mouse duck frog fish cow pig
    horse sheep lamb goat chicken hen owl lion tiger elephant monkey squirrel turtle bee
    butterfly snake dragon dinosaur deer wolf ant bug spider pony unicorn whale dolphin""")
OBJECTS = _set("""ball toy doll car truck train boat kite book box hat cake cookie apple banana
    candy pie ice cream juice milk water bread sandwich flower tree leaf rock stone stick
    shell key door window bed chair table cup bowl plate spoon bag basket bucket blanket
    coat shoe sock dress shirt balloon crayon paper pencil picture gift present ring
    necklace crown wand drum bike swing slide puzzle block teddy game treasure map lamp
    clock phone bell rope ladder mirror umbrella jar bottle carrot seed""")
PLACES = _set("""park house home garden forest wood woods school beach sea ocean river lake
    pond farm zoo store shop market town city village street road yard kitchen room
    bedroom bathroom playground field hill mountain cave castle jungle sky space
    library hospital church backyard meadow island""")
TIMES = _set("morning day night evening afternoon week weekend summer winter spring autumn")

VERBS = _set("""play run walk jump skip hop climb look see find help want like love need try
    make build fix draw paint cook bake eat drink share give take hold hug kiss open close
    push pull throw catch kick sing dance laugh smile cry wave clap swim fly ride drive sit
    stand sleep wake dream think wonder learn listen hear watch wait hide seek search chase
    follow carry bring pick drop fall break clean wash dig plant grow feel touch thank
    visit explore start stop finish win lose wish hope decide agree remember forget notice
    show point call shout yell scream whisper reply answer ask explain tell say""")
IRREGULAR = _set("""ran saw found made took gave came went ate drank sat stood slept woke thought
    felt heard held brought caught threw flew swam rode drove sang began built drew grew
    dug fell broke hid knew told said left lost met won wore wrote kept fed fought forgot
    hurt hit put read got""")
NOT_VERBS = _set("""was were is are am be been being had has have having did does do done go
    goes going get gets could would should will can may might must shall""")
SAID = _set("""said asked replied answered shouted yelled cried exclaimed whispered called
    added explained laughed giggled sighed wondered cheered screamed squealed murmured
    mumbled muttered begged told""")

ADJECTIVES = _set("""big small little tiny huge tall short long round old new young good bad nice
    happy sad angry scared afraid brave kind mean funny silly shy proud tired hungry
    thirsty sleepy lonely excited curious worried calm glad sorry surprised pretty
    beautiful ugly soft hard warm cold hot wet dry clean dirty shiny bright dark quiet loud
    fast slow strong weak red blue green yellow purple orange pink brown black white gold
    golden silver gray grey fluffy sticky yummy tasty sweet sour special strange magic
    wonderful favorite favourite best careful gentle friendly smart lucky safe fun""")
ADJECTIVE_CUES = _set("very so too really felt feel feels looked look looks seemed seem became")

DETERMINERS = _set("a an the his her their my your our its this that these those some one every")
PREPOSITIONS_TO_PLACES = _set("to in at into near from inside by around through across under toward towards")
ABSTRACT = _set("""idea way time moment moral story lesson step lot piece end thing things kind bit
    part side top bottom front back middle name word words place sound voice""")
CALENDAR = _set("""monday tuesday wednesday thursday friday saturday sunday january february march
    april june july august september october november december""")
FUNCTION = _set("""a an the and but or so because then when while if than as of to in at on with
    for from into by up down out off over under about after before again all any each
    every no not some this that these those there here what who where why how which i
    me my we us our you your he him his she her it its they them their yes no oh okay
    hello hi bye please thank thanks very too also just only now once one two three
    is was are were am be been had has have did do does can could will would should
    shall may might must let lets let's""")
