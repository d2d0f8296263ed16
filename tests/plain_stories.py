"""Plain English stories written for the tests (public-domain style, not the synthetic corpus)."""
# ruff: noqa: E501  (story paragraphs are kept one per line)

PLAIN_STORIES = [
    """Once upon a time, there was a little girl named Sue. Sue had a red ball. She loved to play with her ball in the park every day.

One day, Sue saw a big dog near the pond. The dog looked sad. "Why are you sad?" asked Sue. The dog did not answer. It just looked at the ball.

Sue smiled and threw the ball to the dog. The dog jumped and caught it. "Thank you!" said Sue's mom, who was watching from the bench. Sue and the dog played until the sun went down.""",
    """Tom was a small boy who lived in a house by the sea. He had a blue boat that his dad made for him.

Every morning, Tom took his boat to the beach. He put it in the water and watched it float. One day, a strong wind pushed the boat away.

"My boat!" cried Tom. He ran along the sand. A kind old man named Ben saw the boat and pulled it out of the water with a long stick. Tom hugged his boat. "Thank you, Ben," he said. Ben laughed and waved.""",
    """In a quiet forest lived a fox named Rosie. Rosie was very curious. She wanted to see what was behind the tall hill.

So Rosie walked and walked. She passed a river and a cave. At last she climbed to the top of the hill. Below her was a garden full of flowers and apples.

Rosie ate an apple. It was sweet. Then she saw a rabbit named Max. "Hello," said Max. "Do you want to be my friend?" Rosie said yes, and they ate apples together in the garden.""",
    """Lily and her brother Jack wanted to bake a cake for their mom. They went to the kitchen and found a big bowl.

Jack poured the milk and Lily added the eggs. The flour made a white cloud, and they both laughed. Their cat watched from the chair.

When the cake was ready, they put it on the table. Mom came home and saw the cake. "What a wonderful surprise!" she said. Lily and Jack were proud. They all ate the cake after dinner.""",
    """There was an old bear who lived in a cave on the mountain. The bear was lonely. Every night he looked at the stars and made a wish.

One cold morning, a small bird named Pip flew into the cave. Pip was tired and hungry. The bear gave Pip some berries and a warm place by the fire.

Pip stayed with the bear all winter. They told stories and sang songs. When spring came, Pip did not fly away. "You are my best friend," said Pip. The bear was not lonely anymore.""",
    """Anna had a shiny new bike. It was yellow with a little bell. She rode it to school, to the store and to the park.

One day the bike fell and the bell broke. Anna was sad. She took the bike to her grandpa. Grandpa looked at the bell and found a tiny screw.

"We can fix it," said Grandpa. He turned the screw, and the bell rang again. Anna clapped her hands. She gave Grandpa a big hug and rode her bike home, ringing the bell all the way.""",
]
