"""Word lists for the synthetic SimpleStories-like corpus.

Plain data: names with their grammatical gender, places, objects, animals, adjectives by
kind, verbs in the past tense by kind, feelings, times and weather. Strings are split on
``|`` (multi-word entries) or whitespace. The generator draws from these with a seeded RNG;
their size is what makes well over 1,500 distinct words appear in the corpus.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    sep = "|" if "|" in text else None
    return tuple(w.strip() for w in text.split(sep) if w.strip())


GIRL_NAMES = _words("""
Lily Mia Emma Ava Zoe Ruby Rosa Nina Lucy Ella Anna Maya Sara Grace Hannah Chloe Ivy Luna
Stella Nora Clara Alice Daisy Hazel Iris Jade Kira Lena Mila Olive Pearl Quinn Rita Tessa Uma
Vera Wren Yara Zara Amy Beth Cora Dina Elsa Fay Gina Holly Isla June Kate Lara Molly Nell
Opal Poppy Rina Sophie Tara Willa Leah Eva Lottie Bella Sky Jenny Mabel Freya Ada Gemma
Heidi Joy Kayla Lola Nadia Penny Rose Sadie Tilly Violet
""")
BOY_NAMES = _words("""
Max Leo Sam Ben Tom Jack Finn Noah Liam Owen Eli Jake Luke Ryan Adam Theo Oscar Milo Hugo
Felix Jonah Kai Levi Mark Nick Omar Paul Reed Seth Toby Victor Wade Zane Alex Brody Cody
Dylan Ethan Gabe Henry Ian Joel Kevin Lucas Mason Nate Oliver Peter Quentin Rory Simon Tim
Umar Vince Will Xander Yusuf Zack Arlo Bruno Carl Dev Ezra Frank George Harry Isaac Jasper
Kofi Louis Marco Ned Otto Pablo Rafi Sunny Tariq Ollie
""")
# (kind, plural) of animal characters; they get a name from either list.
ANIMALS = _words("""
rabbit fox bear cat dog mouse owl duck frog turtle squirrel deer goat pig cow horse lamb
puppy kitten hedgehog badger beaver otter penguin panda tiger lion monkey elephant giraffe
zebra hippo koala parrot robin sparrow bee butterfly snail ladybug hamster pony dragon
""")

PLACES = _words("""
park forest beach garden library school farm meadow river lake pond hill mountain
village town market bakery zoo playground field cave island castle street yard
barn orchard jungle desert valley bridge harbor museum
treehouse tent camp stream shore cliff lighthouse station fair circus pool gym hospital
palace tower cottage swamp canyon
""") + ("toy shop", "pet shop", "candy shop", "flower shop", "train station")

OBJECTS = _words("""
ball kite book key lantern hat scarf box drum bell boat car train robot doll puzzle map
shell stone feather leaf flower seed cake cookie apple pie sandwich basket bucket shovel
blanket pillow clock watch ring necklace crown wand cup bowl spoon brush paint crayon
pencil notebook letter card gift balloon candle lamp mirror umbrella coat boot sock glove
bike wagon sled rope ladder tent jar bottle bag backpack sweater marble coin button ribbon
bracelet whistle flute guitar piano trumpet camera telescope compass flag tractor helmet
pebble acorn nest egg carrot pumpkin berry honey jam bread muffin pancake snowman sandcastle
quilt teapot kettle vase fan radio tablet sticker postcard badge trophy medal
""")

ADJECTIVES = {
    "color": _words("red blue green yellow purple orange pink brown black white golden silver gray"),
    "size": _words("big small tiny huge little tall short long round wide thin giant"),
    "texture": _words("soft smooth fuzzy shiny bumpy sticky warm cold wet dry fluffy muddy"),
    "quality": _words("""old new pretty beautiful special strange funny shiny bright dark quiet
        noisy clean dirty broken lovely magic wonderful simple fancy plain cozy sparkly"""),
    "feeling": _words("""happy sad scared angry brave proud shy excited tired hungry lonely
        curious worried calm glad nervous sorry surprised grumpy cheerful gentle kind silly
        thankful jealous upset hopeful bored sleepy"""),
    "happy": _words("happy proud glad excited thankful cheerful calm hopeful joyful delighted"),
    "sad": _words("sad scared lonely worried tired hungry upset nervous afraid cold"),
    "weather": _words("sunny rainy windy snowy cloudy foggy stormy warm chilly bright"),
}

VERBS = {
    # intransitive movement / activity, past tense
    "move": _words("""ran walked jumped skipped hopped climbed raced wandered hurried marched
        danced crawled rushed strolled dashed tiptoed stomped rolled swam flew"""),
    # transitive, take an object: "{verb} the {obj}"
    "handle": _words("""found picked|up carried held painted built fixed washed hid dropped
        opened shook lifted hugged cleaned moved pushed pulled wrapped shared""".replace("|", "_")),
    "look": _words("looked searched peeked glanced stared checked"),
    "play": _words("played laughed sang giggled smiled waved clapped cheered whistled hummed"),
    "feel": _words("cried sighed frowned gasped shivered yawned sniffed blushed grinned nodded"),
    "think": _words("thought wondered"),
}
# said-verbs by the kind of sentence they introduce
SAID = {
    "statement": _words("said whispered replied answered explained added called"),
    "question": _words("asked wondered whispered called"),
    "exclamation": _words("shouted cried exclaimed laughed cheered yelled"),
}

TIMES = _words("""one day|one morning|one evening|one afternoon|one summer day|one winter night|
    one rainy day|one sunny morning|on a cold day|early one morning|after school|
    before dinner|on the weekend|one spring day|late one night|on a windy afternoon""")
OPENINGS = _words("""once upon a time|long ago|in a small village|in a busy town|
    near a quiet forest|by the sea|in a little house on a hill|not long ago""")
SOUNDS = _words("a strange noise|a soft tapping|a loud crash|a funny squeak|a quiet buzz|a deep growl|a sweet song")
SOURCES_OF_SOUNDS = _words("""a little bird|the wind in the trees|a lost kitten|a squirrel with a nut|
    an old clock|a frog in a bucket|a puppy chasing its tail|rain on the roof""")
FEARS = _words("the dark|the big waves|the tall slide|thunder|the deep water|the old bridge|the loud dog|"
               "the high branch")
FOODS = _words("cookies soup pancakes apples bread pie berries sandwiches muffins carrots noodles rice")
GAMES = _words("tag|hide and seek|catch|jump rope|hopscotch|marbles|a treasure hunt|a race|a guessing game")
THINGS_TO_MAKE = _words("a kite|a cake|a birdhouse|a painting|a sandcastle|a card|a boat|a necklace|a snowman|"
                        "a tower of blocks|a puppet")

STYLES = _words("simple playful descriptive dialogue-heavy calm adventurous humorous")
MORALS = {  # theme -> moral; the keys are the corpus's themes
    "friendship": "Good friends make every day brighter",
    "courage": "Being brave does not mean you are never scared",
    "kindness": "A little kindness can go a long way",
    "honesty": "Telling the truth is always the best choice",
    "sharing": "Sharing makes fun twice as big",
    "perseverance": "If you keep trying, you can do hard things",
    "curiosity": "Asking questions helps you learn new things",
    "teamwork": "We can do more when we work together",
    "patience": "Good things come to those who wait",
    "forgiveness": "Saying sorry and forgiving can mend a friendship",
    "helping others": "Helping others makes your own heart happy",
    "family": "Family is always there for you",
    "imagination": "Your imagination can take you anywhere",
    "responsibility": "Taking care of things is an important job",
}

# --- more variety: extra names, things and nature, used by descriptive sentences ---------
GIRL_NAMES += _words("""
Abby Bonnie Carmen Delia Edith Flora Greta Hattie Ingrid Jolene Kelsey Lucia Marta Nadine
Odette Paige Rhea Selma Thea Ursula Vivian Winnie Xena Yvonne Zelda Agnes Bea Cleo Dottie
Esme Frida Gwen Harper Imani Josie Keira Lila Maisie Noelle Orla Phoebe Rosie Siena Trudy
""")
BOY_NAMES += _words("""
Abel Barney Cyrus Dominic Elliot Fergus Gideon Hank Ivan Jude Kieran Lenny Monty Nico Orson
Percy Ralph Stan Tobias Ulric Walter Yannick Zeke Archie Basil Clyde Dexter Emil Fritz Gus
Hamish Iggy Jonas Kit Lars Miles Noel Oswald Pip Rufus Silas Teddy Wilbur
""")
ANIMALS += _words("""
mole raccoon skunk moose camel kangaroo sloth seal walrus whale dolphin octopus crab
chicken rooster goose swan crow pigeon bat wolf lizard chipmunk ferret llama yak
""")
OBJECTS += _words("""
yoyo top kazoo harmonica xylophone tambourine violin banjo ukulele rattle beanbag frisbee
skateboard scooter tricycle hammock swing seesaw slide trampoline pinwheel bubble wand
snowglobe locket brooch tiara cape mask apron mitten earmuff slipper sandal sneaker
raincoat overalls pajamas nightcap hairbrush comb toothbrush soap towel sponge napkin
plate fork knife ladle whisk rolling|pin oven toaster blender
""".replace("rolling|pin", "")) + ("rolling pin",)
FOODS = FOODS + _words("""
oatmeal cereal waffles toast eggs bananas grapes oranges pears peaches plums cherries
strawberries blueberries melon watermelon corn peas beans potatoes tomatoes cheese yogurt
popcorn pretzels crackers cupcakes donuts biscuits dumplings tacos pizza spaghetti
""")
FLOWERS = _words("daisies tulips roses sunflowers daffodils violets poppies lilies bluebells dandelions "
                 "marigolds lilacs")
TREES = _words("oak pine maple willow birch apple cherry palm elm cedar chestnut")
SKY = _words("clouds rainbow moon stars sun comet kites birds butterflies snowflakes raindrops")
BUGS = _words("ants beetles crickets caterpillars fireflies grasshoppers dragonflies worms spiders moths")
JOBS = _words("baker farmer doctor painter builder sailor pilot teacher gardener fisherman librarian nurse "
              "mailman chef")
COLORS_EXTRA = _words("crimson scarlet violet turquoise amber emerald indigo lavender ivory peach")
ADJECTIVES["quality"] += _words("""ancient curious enormous fragile gigantic glittering gloomy
    golden hollow humble magical marvelous mysterious peculiar precious rusty sparkling
    splendid squeaky sturdy tangled twisty wobbly wrinkly crooked dusty""")
ADJECTIVES["color"] += COLORS_EXTRA
ADJECTIVES["feeling"] += _words("amazed delighted frightened giggly grateful impatient joyful puzzled relieved "
                                "restless")
VERBS["move"] += _words("scampered trotted zoomed paddled galloped waddled bounced slid tumbled pranced")
VERBS["play"] += _words("chuckled twirled skipped drummed doodled juggled whooped")
VERBS["handle"] += _words("polished decorated counted tossed caught stacked sorted folded buried")
VERBS["feel"] += _words("sniffled pouted squealed winced")
PLACES += _words("""
waterfall creek marsh prairie riverbank seaside hilltop pier dock greenhouse windmill stable
henhouse aquarium planetarium bookstore igloo volcano rainforest vineyard bay pasture
""")
ADVERBS = _words("""quickly slowly carefully happily quietly gently bravely proudly softly loudly
    suddenly finally eagerly sleepily calmly cheerfully nervously patiently politely
    shyly sadly boldly swiftly lazily merrily""")
NUMBERS = _words("two three four five six seven eight nine ten eleven twelve twenty")
DAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
SEASONS = _words("spring summer autumn winter")
MONTHS = _words("January February March April May June July August September October November December")
BODY = _words("hands knees nose ears toes cheeks shoulders elbows fingers tummy")
CLOTHES = _words("boots mittens scarf hat jacket sweater raincoat socks overalls cap")
TOOLS = _words("hammer saw screwdriver wrench shovel rake broom bucket hose ladder glue tape string nails")
GIRL_NAMES += _words("""
Alma Bridget Cecily Daphne Eloise Fiona Georgia Hope Ida Juno Lorna Matilda Nola Octavia
Priya Ramona Sage Tamsin Valerie Wanda Yasmin Zinnia Aria Brooke Celeste Dora Elena
Farah Gloria Hallie Indira Jasmine Kendra Lydia Mira Naomi Petra Rowan Sylvie Talia
""")
BOY_NAMES += _words("""
Albert Benny Caleb Dario Edgar Floyd Grant Harvey Ike Jamie Kenji Lionel Morris Nolan Orrin
Preston Reggie Sonny Thaddeus Ulysses Vernon Warren Yuri Zachary Amos Boris Cedric Darius
Emmett Forrest Gordon Hector Ira Jethro Kurt Lyle Murray Norris Otis Quincy
""")
OBJECTS += _words("""
abacus anchor arrow barrel baton beads binoculars blocks bookmark bowtie bridle brooch
canoe cart chalk chest cloak crate cushion dice dominoes easel envelope eraser fishbowl
flashlight funnel goggles hammer hook horn jigsaw kaleidoscope keychain lasso lunchbox
magnet mailbox microscope mug net oar paddle paintbrush parasol pinecone pitcher pouch
puppet quill rake saddle satchel scissors seashell shield skipping|rope slingshot spinner
spyglass stool suitcase sundial tambourine teacup thimble toolbox trowel tuba typewriter
unicycle vest walkie|talkie wheelbarrow windmill wreath xylophone yarn zipper
""".replace("|", "_"))
ANIMALS += _words("""
alpaca armadillo beetle bison buffalo cheetah cricket dingo donkey eagle falcon flamingo
gecko gorilla heron hummingbird iguana jaguar jellyfish lemur leopard lobster magpie
meerkat newt ostrich panther pelican platypus porcupine puffin quail reindeer salamander
seagull shark starfish stork toad toucan vulture weasel woodpecker wombat
""")
HOBBIES = _words("""reading drawing singing dancing gardening swimming fishing baking painting
    knitting skating hiking climbing building counting juggling whistling writing""")
INSTRUMENTS = _words("drum flute guitar piano violin trumpet harp cello banjo ukulele tuba harmonica")
VEHICLES = _words("bus tractor truck sailboat ferry rowboat airplane helicopter rocket submarine wagon scooter")
SHAPES = _words("circle square triangle star heart diamond oval spiral zigzag crescent")
WEATHER = _words("rain snow wind fog sunshine thunder hail drizzle frost breeze")
ADJECTIVES["quality"] += _words("""adorable awful bouncy chilly clumsy creaky crunchy dazzling
    delicious dizzy fierce fluttery freckled friendly gleaming grand grubby handsome hairy
    itchy jolly jumpy knobbly lumpy messy muddy nifty odd patchy plump polka|dotted""".replace("|", "-"))
ADJECTIVES["feeling"] += _words("ashamed bashful content cross eager fearless gloomy merry playful sulky")
VERBS["move"] += _words("wobbled sprinted staggered drifted glided plodded sauntered scurried splashed leaped")
VERBS["play"] += _words("hollered yodeled snickered beamed cartwheeled somersaulted")
VERBS["handle"] += _words("grabbed squeezed patted tapped rubbed scrubbed fetched borrowed")
VERBS["look"] += _words("squinted gazed watched spotted noticed")
THEMES = tuple(MORALS)
