"""Narrative arcs of the synthetic corpus: beats made of sentence templates.

An arc is a sequence of beats (introduction, problem, attempts, resolution, ending); each
beat is a pool of alternative sentence templates (slots in :mod:`.writer`), of which a story
uses a few. ``middle`` beats can repeat, which is how a story grows from one paragraph to nine.
The cast: ``H`` the hero, ``F`` a friend, ``O`` the story's object, ``P``/``P2`` places.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arc:
    name: str
    topic: str
    themes: tuple[str, ...]
    intro: tuple[str, ...]
    problem: tuple[str, ...]
    middle: tuple[tuple[str, ...], ...]
    resolution: tuple[str, ...]
    ending: tuple[str, ...]
    twist: bool = False
    friend_intro: bool = True
    """Whether the friend is introduced at the start (not so when meeting them is the plot)."""


INTRO_HERO = (
    "{X:OPENINGS}, there was {a} {adj:feeling} {H.kind} named {H}.",
    "{X:OPENINGS}, {a} {H.kind} named {H} lived near the {P}.",
    "There once was {a} {adj:feeling} {H.kind} called {H}.",
    "{H} was {a} {adj:feeling} {H.kind} who lived by the {P}.",
    "In a {adj:quality} house near the {P}, there lived {a} {H.kind} named {H}.",
    "{H} was {a} {H.kind} with a {adj:quality} smile and a {adj:feeling} heart.",
)
FRIEND_INTRO = (
    "{H.he} loved to play {X:GAMES} with {H.his} friend {F}.",
    "Every day, {H.he} {v:move} to the {P} to see {H.his} friend {F}.",
    "{H.his} best friend was {a} {F.kind} named {F}.",
    "{H.his} friend {F} lived just down the street.",
)
INTRO_MORE = (
    "{H.his} favorite things were {X:HOBBIES}, {X:HOBBIES} and playing the {X:INSTRUMENTS}.",
    "{H.he} dreamed of riding in a {X:VEHICLES} one day.",
    "{H.he} liked {X:WEATHER} and {X:WEATHER} more than anything.",
    "{H.his} mom was {a} {X:JOBS}, and {H.his} dad was {a} {X:JOBS}.",
    "{H.he} had a pet {X:ANIMALS} and a garden full of {X:FLOWERS}.",
    "On {H.his} shelf sat {a} {adj:quality} {X:OBJECTS} and {a} {adj:color} {X:OBJECTS}.",
    "{H.he} had {a} {O.adj} {O} that {H.he} loved more than anything.",
    "The {adj:weather} days were {H.his} favorite, because {H.he} could play outside.",
    "{H.he} liked to eat {X:FOODS} and to look at the sky.",
    "{H.he} often {v:play} and {v:play} all day long.",
)
FRIEND_TALK = (
    "<<What are you doing?>> {F} {said}.",
    "{F} {said}, <<Can I help you?>>",
    "<<I do not know what to do,>> {H} {said}.",
    "{H.he} {said}, <<This is harder than I thought.>>",
    "<<Let us try together,>> {F} {said} with a smile.",
    "{F} {v:think} for a moment and {said}, <<I have an idea!>>",
    "<<Do not worry,>> {F} {said}. <<We will find a way.>>",
)
DESCRIBE = (
    "In the distance, a {X:VEHICLES} went by with a honk.",
    "{H.he} drew a {X:SHAPES} and a {X:SHAPES} in the sand with a stick.",
    "Someone nearby was playing a {X:INSTRUMENTS}, and the music was {adj:quality}.",
    "The {X:WEATHER} came and went, and the {X:ANIMALS} hid in the grass.",
    "{H} {v:move} {X:ADVERBS} past {X:NUMBERS} {X:TREES} trees.",
    "It was a {adj:weather} {X:DAYS} in {X:MONTHS}, and {X:SEASONS} was almost here.",
    "{H.his} {X:BODY} were cold, so {H.he} pulled on {H.his} {X:CLOTHES}.",
    "{H.he} counted {X:NUMBERS} {X:BUGS} on a leaf and laughed {X:ADVERBS}.",
    "{X:FLOWERS} and {X:FLOWERS} grew under the old {X:TREES} tree.",
    "High above, {H.he} could see {X:SKY} and {X:SKY}.",
    "Near the path, tiny {X:BUGS} were busy at work.",
    "{H.his} grandpa, who was {a} {X:JOBS}, waved from the window.",
    "{H.he} stopped to eat some {X:FOODS} and a few {X:FOODS}.",
    "The {X:TREES} trees were {adj:color} and {adj:quality}.",
    "A {adj:size} {X:ANIMALS} watched them from behind a bush.",
    "The sky was {adj:weather} and the {P} was {adj:quality}.",
    "Birds sang in the {adj:size} trees, and the grass was {adj:texture}.",
    "{H} felt {adj:feeling} and a little {adj:sad}.",
    "The air smelled of {X:FOODS} and flowers.",
    "{H.he} {v:feel} and {v:look} around the {P}.",
    "Everything around {H.him} looked {adj:quality} and {adj:color}.",
)
ENDINGS = (
    "From that day on, {H} and {F} were the best of friends.",
    "{H} {v:play} all the way home.",
    "That night, {H.he} fell asleep with a {adj:happy} smile.",
    "{H} knew that {H.he} would never forget this day.",
    "The two friends {v:play} until the sun went down.",
    "And {H} was very {adj:happy}.",
    "{H.he} hugged {F} and {said}, <<Thank you for being my friend.>>",
)

ARCS: tuple[Arc, ...] = (
    Arc(
        "lost_and_found", "a lost treasure", ("perseverance", "friendship", "responsibility"),
        INTRO_MORE,
        (
            "{time}, {H.he} could not find {H.his} {O} anywhere.",
            "{time}, {H} {v:move} to the {P} and dropped {H.his} {O.adj} {O}.",
            "When {H.he} looked in {H.his} bag, the {O} was gone.",
            "{H} {v:feel}. <<Where is my {O}?>> {H.he} {said}.",
        ),
        (
            ("{H.he} {v:look} under the bed and behind the door.",
             "{H} {v:move} to the {P2} to look for the {O}.",
             "{H.he} asked {H.his} friend {F} for help.",
             "They {v:look} high and low, but the {O} was not there.",
             "{H.he} {v:look} and {v:look}, but {H.he} found only a {adj:size} {X:OBJECTS}."),
            FRIEND_TALK, DESCRIBE,
        ),
        (
            "At last, {F} saw something {adj:color} near the {P2}.",
            "It was the {O}! It was a little {adj:texture}, but it was fine.",
            "{H} picked up the {O} and held {O.it} close.",
            "<<You found it!>> {H} {said}. {H.he} {v:play} with joy.",
        ),
        ENDINGS,
    ),
    Arc(
        "being_brave", "facing a fear", ("courage", "friendship"),
        INTRO_MORE,
        (
            "But {H} was afraid of {X:FEARS}.",
            "{time}, {H.his} friends wanted to go to the {P}, but {H} felt {adj:sad}.",
            "<<I am too scared,>> {H} {said} quietly.",
            "{H.his} knees shook and {H.his} hands felt {adj:texture}.",
        ),
        (
            ("{F} held {H.his} hand and {said}, <<I will stay with you.>>",
             "{H} took a deep breath and counted to three.",
             "{H.he} {v:think} about all the brave people {H.he} knew.",
             "{H.he} took one small step, and then another."),
            FRIEND_TALK, DESCRIBE,
        ),
        (
            "Slowly, {H} {v:move} forward. It was not so bad after all!",
            "{H} did it! {H.he} felt {adj:happy} and strong.",
            "<<I was scared, but I did it,>> {H} {said}.",
            "{F} {v:play} and {said}, <<You are so brave!>>",
        ),
        ENDINGS,
    ),
    Arc(
        "sharing", "learning to share", ("sharing", "kindness", "forgiveness"),
        INTRO_MORE,
        (
            "{time}, {H} and {F} both wanted to play with the {O.adj} {O}.",
            "<<It is mine!>> {H} {said}, and {H.he} pulled the {O}.",
            "{F} pulled too, and the two friends started to argue.",
            "{F} felt {adj:sad} and {v:feel}.",
        ),
        (
            ("{H} saw that {F} was sad, and {H.he} felt {adj:sad} too.",
             "{H.his} mom {said}, <<Why not take turns?>>",
             "{H} {v:think} about how {H.he} would feel.",
             "The {O} sat on the ground, and nobody played with {O.it}."),
            FRIEND_TALK, DESCRIBE,
        ),
        (
            "<<I am sorry,>> {H} {said}. <<We can share the {O}.>>",
            "{H} gave the {O} to {F}, and {F} smiled.",
            "They took turns, and the game was twice as fun.",
            "{F} {said}, <<Thank you! You are a good friend.>>",
        ),
        ENDINGS,
    ),
    Arc(
        "helping_animal", "a friend in need", ("kindness", "helping others", "responsibility"),
        INTRO_MORE,
        (
            "{time}, {H} found a {adj:size} {X:ANIMALS} near the {P}.",
            "The little animal looked {adj:sad} and {adj:sad}.",
            "It had a hurt leg and could not walk.",
            "<<Poor thing,>> {H} {said}. <<I will help you.>>",
        ),
        (
            ("{H} carried the animal home in a {adj:texture} blanket.",
             "{H.he} gave it water and some {X:FOODS}.",
             "{F} came to help and brought a {O} for the animal.",
             "Every day, {H} {v:handle} the {O} and checked on the little animal."),
            FRIEND_TALK, DESCRIBE,
        ),
        (
            "Soon the animal was strong again and {v:move} around the yard.",
            "{H} took it back to the {P}, where its family was waiting.",
            "The animal looked back at {H} as if to say thank you.",
            "{H} felt {adj:happy} and proud.",
        ),
        ENDINGS,
    ),
    Arc(
        "making_something", "making something new", ("perseverance", "imagination", "patience"),
        INTRO_MORE,
        (
            "{time}, {H} wanted to make {X:THINGS_TO_MAKE} for {H.his} mom.",
            "{H.he} got a {O}, some glue and a lot of paper.",
            "The first try did not work. It fell apart!",
            "{H} {v:feel}. <<It is all wrong,>> {H.he} {said}.",
        ),
        (
            ("{H} {v:think} about what went wrong.",
             "{H.he} found a {X:TOOLS}, some {X:TOOLS} and a piece of {X:TOOLS}.",
             "{H.he} tried again, slowly and carefully this time.",
             "{F} came over and held the {O} still.",
             "It was hard work, but {H} did not give up."),
            FRIEND_TALK, DESCRIBE,
        ),
        (
            "At last, it was done, and it looked {adj:quality}!",
            "{H.his} mom {v:play} and hugged {H.him}.",
            "<<I love it,>> {H.his} mom {said}. <<You worked so hard.>>",
            "{H} felt {adj:happy} because {H.he} had kept trying.",
        ),
        ENDINGS,
    ),
    Arc(
        "adventure", "a trip to a new place", ("curiosity", "teamwork", "courage"),
        INTRO_MORE,
        (
            "{time}, {H} and {F} set off to explore the {P2}.",
            "They packed a {O}, some {X:FOODS} and a map.",
            "On the way, they came to a {adj:size} river with no bridge.",
            "<<How will we get across?>> {F} {said}.",
        ),
        (
            ("{H} {v:think} hard and had a {adj:quality} idea.",
             "They found a long log and pushed it over the water.",
             "{H} {X:ADVERBS} tied a {X:TOOLS} to the log.",
             "Together, they {v:move} across, one step at a time.",
             "A {adj:weather} wind blew, and the trees swayed."),
            FRIEND_TALK, DESCRIBE,
        ),
        (
            "At the {P2}, they found a {adj:quality} {X:OBJECTS} hidden in the grass.",
            "They {v:play} and {v:play} in the sunshine.",
            "<<We did it together!>> {H} {said}.",
            "When it got late, they {v:move} home, tired and {adj:happy}.",
        ),
        ENDINGS,
    ),
    Arc(
        "mystery", "a strange sound", ("curiosity", "courage"),
        INTRO_MORE,
        (
            "{time}, {H} heard {X:SOUNDS} coming from the {P}.",
            "{H.he} {v:feel}. <<What was that?>> {H.he} {said}.",
            "The sound came again, and {H} felt {adj:sad}.",
        ),
        (
            ("{H} took {H.his} {O} and {v:move} toward the sound.",
             "{F} {v:move} behind {H.him}, holding {H.his} hand.",
             "They {v:look} behind a {adj:size} box and under a {adj:color} chair.",
             "The sound got louder and louder."),
            FRIEND_TALK, DESCRIBE,
        ),
        (
            "But it was only {X:SOURCES_OF_SOUNDS}!",
            "{H} and {F} {v:play} so hard that they fell down.",
            "<<We were scared of nothing,>> {F} {said}.",
        ),
        ENDINGS,
        twist=True,
    ),
    Arc(
        "new_friend", "making a new friend", ("friendship", "kindness", "family"),
        (
            "{H.he} had {a} {O.adj} {O} but no one to play with.",
            "{H} often felt {adj:sad} at the {P}.",
        ),
        (
            "{time}, a new {F.kind} named {F} moved in next door.",
            "{F} sat alone at the {P} and looked {adj:sad}.",
            "{H} wanted to say hello, but {H.he} felt shy.",
        ),
        (
            ("{H} {v:think} about what to say.",
             "{H.he} took {H.his} {O} and {v:move} over to {F}.",
             "<<Hello, I am {H},>> {H.he} {said}. <<Do you want to play?>>",
             "{F} smiled a {adj:size} smile and nodded."),
            FRIEND_TALK, DESCRIBE,
        ),
        (
            "They played {X:GAMES} until it was time for dinner.",
            "{F} {said}, <<I was so lonely, but now I have a friend.>>",
            "{H} felt {adj:happy} and warm inside.",
        ),
        ENDINGS,
        friend_intro=False,
    ),
)
