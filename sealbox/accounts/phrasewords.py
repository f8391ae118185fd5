"""The words personal phrases are made of: one list per language, written by this project.

Common, concrete, easy-to-read nouns (animals, plants, food, colours, everyday
objects, places in nature), none with an offensive second meaning; Arabic
without diacritics. Each list has at least 256 distinct single words, so that
a phrase of three holds at least 24 bits (tests/accounts/test_phrase.py).
Adding a language: one more entry in WORDS.
"""

from __future__ import annotations

_EN = """
ant badger bear bee bison camel cat crab crane deer dolphin duck eagle elk falcon finch fox
frog gecko giraffe goat goose gull hare hawk hedgehog heron horse koala lamb lark lemur lion
lizard llama lobster moose mouse newt otter owl panda parrot pelican penguin pony puffin
rabbit raven robin salmon sheep snail sparrow squid stork swan tiger toad trout turtle walrus
whale wolf wren zebra yak beetle cricket oyster shrimp tuna kitten puppy calf hen flamingo
acorn aspen bamboo birch cactus cedar clover daisy elm fern fig hazel holly ivy lily lotus
maple moss oak orchid palm pine poppy reed rose sage tulip violet willow thistle lilac
lavender mint basil thyme cypress laurel juniper heather iris jasmine magnolia olive peony
sunflower bluebell
apple apricot bagel banana bean berry biscuit bread butter cake carrot cashew celery cheese
chestnut cocoa coconut cookie corn cream cucumber curry grape guava honey jam kiwi
lemon lentil lettuce lime mango melon noodle oat onion orange pancake pasta pea peach peanut
pear pepper pickle pie pizza plum potato pretzel pumpkin radish raisin rice salad soup
spinach sugar taco toast tomato waffle walnut yogurt tea coffee almond avocado broccoli
cabbage garlic ginger
amber azure beige blue bronze brown coral crimson cyan gold gray green indigo ivory jade
khaki magenta maroon navy ochre pink purple red ruby rust scarlet silver teal turquoise
yellow
anchor apron backpack ball balloon basket bell bench bicycle blanket boat book boot bottle
bowl bridge brush bucket button camera candle canoe cap carpet castle chair chalk clock coat
comb compass cup curtain desk drum envelope feather fence flag flute fork globe glove guitar
hammer harp hat helmet jacket jar kettle key kite ladder lamp lantern magnet map mirror
mitten mug needle notebook oven paddle pan paper pen pencil piano pillow plate pocket pot
puzzle quilt radio ribbon ring rope ruler sail scarf shelf sock sofa spoon stamp table teapot
tent ticket towel tractor train trumpet umbrella vase violin wagon wallet whistle window yarn
zipper sandal slipper kayak marble crayon teacup saucer wheel barrel cushion
beach bay brook canyon cape cave cliff coast creek delta desert dune field fjord forest
glacier grove harbor hill island lagoon lake meadow mountain oasis ocean pond prairie reef
river shore stream summit valley volcano waterfall garden orchard park trail moon star sun
rain snow rainbow pebble shell leaf seed comet planet breeze
"""

_DE = """
Adler Ameise Bär Biene Dachs Delfin Elch Elefant Ente Eule Falke Fisch Frosch Fuchs Gans
Giraffe Hase Hirsch Hummel Igel Kamel Katze Koala Krabbe Kranich Lachs Lama Löwe Luchs
Marder Maus Möwe Otter Panda Papagei Pferd Pinguin Pony Rabe Reh Robbe Schnecke Schwan
Spatz Specht Storch Taube Tiger Wal Wolf Zebra Forelle Hummer Kolibri Lerche Meise Krähe
Fink Hamster Biber Dackel Pudel Küken Lamm Fohlen Dohle Seehund Qualle Seestern Libelle
Falter Käfer Gecko Leguan
Ahorn Birke Buche Eiche Efeu Farn Fichte Flieder Ginster Kaktus Kastanie Klee Lavendel
Lilie Linde Lotus Malve Minze Mohn Moos Nelke Orchidee Palme Pappel Rose Salbei Schilf
Tanne Tulpe Veilchen Weide Zeder Zypresse Holunder Jasmin Krokus Narzisse Thymian
Basilikum Dahlie Distel Erle Esche Kamille Lärche Rosmarin
Apfel Aprikose Banane Birne Brezel Brot Brötchen Butter Dattel Erbse Erdbeere Feige Gurke
Himbeere Honig Joghurt Kaffee Karotte Kartoffel Käse Keks Kirsche Kiwi Kuchen Kürbis Linse
Mandel Mango Marmelade Melone Möhre Müsli Nudel Olive Orange Paprika Pfannkuchen Pfirsich
Pilz Pizza Quark Reis Rosine Salat Sellerie Semmel Suppe Tee Tomate Torte Waffel Walnuss
Zimt Zitrone Zucker Zwiebel Kakao Kokosnuss Bohne Mais Hafer Weizen Ingwer Knoblauch Spinat
Blau Rot Grün Gelb Gold Silber Bronze Purpur Türkis Violett Rosa Beige Ocker Magenta
Indigo Azur Bernstein Karmin Zinnober
Anker Ballon Ball Becher Besen Bleistift Brille Brief Buch Bürste Decke Eimer Fahne
Fahrrad Feder Fenster Flasche Flöte Gabel Geige Gitarre Glocke Handschuh Hammer Harfe Helm
Hut Jacke Kamm Kanu Kerze Kessel Kissen Kiste Koffer Korb Kreide Krug Lampe Leiter
Löffel Magnet Mantel Mütze Nadel Netz Pinsel Puzzle Radio Rucksack Schal Schaufel Schirm
Schlüssel Schrank Schuh Segel Sessel Socke Spiegel Stempel Stiefel Stuhl Tasche Tasse
Teller Tisch Topf Trommel Uhr Vase Wagen Wecker Zelt Kompass Globus Schlitten Drachen
Teppich Sofa Gießkanne Faden Knopf Ring Boot Zug Traktor Schaukel Karte Umschlag Seil
Schere Kanne Schüssel Laterne
Bach Berg Bucht Düne Fluss Gipfel Gletscher Hain Hügel Höhle Insel Kap Klippe Küste
Lagune Meer Moor Oase Ozean Quelle Riff Schlucht See Strand Tal Teich Vulkan Wald
Wasserfall Wiese Wüste Garten Pfad Felsen Mond Stern Sonne Regen Schnee Regenbogen Wolke
Kiesel Blatt Komet Planet Brise Nebel Tau Welle Sand Blume Obstgarten Fjord Heide Acker
"""

_NL = """
bever beer bij das dolfijn duif eend egel eekhoorn ekster eland olifant fazant flamingo
forel gans geit giraf haas havik hert hommel inktvis kameel kanarie kat kikker koala
konijn kraai krab kreeft lama leeuw lam libel lijster meeuw merel mier mol mus
neushoorn otter paard panda papegaai pauw pinguin pony raaf ree reiger rob schaap schildpad
slak specht spin spreeuw tijger uil vink vis vlinder vos walvis wolf zalm zebra zeehond
zwaan kip kuiken veulen kalf hamster gekko zeester
berk beuk eik els es klimop varen den spar lelie tulp roos klaver lavendel munt basilicum
tijm salie cactus palm wilg linde esdoorn kastanje populier iep riet mos papaver viooltje
madelief narcis krokus orchidee zonnebloem distel jasmijn lotus ceder cipres hulst vlier
dahlia anjer bamboe
appel peer banaan kers druif citroen limoen sinaasappel mango meloen perzik pruim abrikoos
aardbei framboos bosbes kiwi vijg dadel ananas kokosnoot walnoot amandel hazelnoot pinda
brood boter kaas koek koekje taart wafel pannenkoek honing jam soep rijst pasta pizza
noedel erwt boon wortel ui knoflook gember prei sla spinazie tomaat komkommer paprika
pompoen aardappel maïs haver thee koffie cacao suiker kaneel yoghurt muesli olijf radijs
rozijn stroopwafel drop beschuit bloemkool broccoli selderij linze
rood blauw groen geel oranje paars roze bruin grijs goud zilver brons beige turquoise
indigo oker violet karmijn azuur amber ivoor magenta koraal
anker ballon bal bank beker bezem potlood bril brief boek borstel deken emmer vlag fiets
veer raam fles fluit vork viool gitaar bel handschoen hamer harp helm hoed jas kam kano
kaars ketel kussen kist koffer mand krijt kruik lamp lantaarn ladder lepel magneet mantel
muts naald net penseel puzzel radio rugzak sjaal schep paraplu sleutel kast schoen zeil
stoel sok spiegel stempel laars tafel tas kopje bord pan trommel klok vaas wagen wekker
tent kompas wereldbol slee vlieger tapijt gieter knoop ring boot trein tractor schommel
glijbaan kaart envelop schaar touw mok pet schaal
beek berg baai duin rivier gletsjer heuvel grot eiland kaap klif kust lagune zee oceaan
bron rif kloof meer strand dal vijver vulkaan bos waterval weide woestijn tuin pad rots
maan ster zon regen sneeuw regenboog wolk kiezel blad komeet planeet bries mist dauw golf
zand polder dijk heide oase moeras akker boomgaard
"""

_FR = """
abeille aigle agneau alouette baleine biche bison bouquetin caille canard castor cerf
chameau chat chevreuil cheval chèvre chouette cigale cigogne colombe coccinelle crabe
cygne dauphin écureuil éléphant escargot faucon fourmi gazelle girafe grenouille hérisson
hibou hirondelle homard koala lapin lézard lion loup loutre lynx marmotte merle mésange
mouette mouton ours panda paon papillon perroquet pingouin poney poussin renard
rossignol saumon souris tigre tortue truite zèbre pélican flamant lama hamster manchot
héron chaton caneton poulain veau
bambou bouleau cactus cèdre chêne érable fougère hêtre houx iris jasmin lavande lierre
lilas lotus lys marguerite menthe mimosa muguet noisetier olivier orchidée palmier
pâquerette peuplier pin platane coquelicot romarin rose roseau sapin saule sauge thym
tilleul trèfle tulipe violette tournesol mousse basilic cyprès chardon bruyère genêt
pivoine glycine
abricot amande ananas banane beurre biscuit brioche café carotte cerise citron clémentine
concombre confiture crêpe croissant datte figue fraise framboise fromage gâteau gaufre
haricot kiwi lait lentille mangue melon miel myrtille noisette noix oignon olive orange
pain pâtes pêche poire pois poivron pomme potiron radis raisin riz salade soupe sucre
tarte thé tomate yaourt cannelle chocolat citrouille épinard maïs avoine céleri gingembre
ail chou laitue pistache courgette cacahuète baguette madeleine
rouge bleu vert jaune violet marron gris argent bronze beige turquoise indigo ocre pourpre
azur ambre ivoire corail émeraude saphir rubis écarlate cobalt safran carmin kaki magenta
cyan
ancre ballon banc bateau bougie bouteille boussole bol botte brosse cadenas cahier carte
casque casquette chaise chapeau chaussette chaussure ciseaux clé cloche coffre coussin
crayon cuillère drapeau écharpe enveloppe éventail fenêtre flûte fourchette gant globe
guitare harpe horloge lampe lanterne livre loupe luge lunettes manteau marteau miroir
montre nappe panier parapluie peigne pinceau piano plume puzzle radio réveil ruban sac seau
stylo table tambour tapis tasse théière tente timbre train trompette valise vase vélo
violon voilier bouton anneau pelle arrosoir lampion bonnet tablier corde échelle assiette
baie bois cascade colline côte désert dune étang falaise fleuve forêt glacier grotte île
jardin lac lagune mer montagne oasis océan plage prairie récif rivière rocher ruisseau
sentier sommet source vallée verger volcan lune étoile soleil pluie neige nuage galet
feuille graine comète planète brise brume rosée vague sable coquillage cap fjord marais pré
"""

_ES = """
abeja águila alce ardilla ballena búho caballo camello canguro cangrejo caracol castor
cebra ciervo cigüeña cisne conejo cordero delfín elefante erizo faisán foca gacela ganso
garza gato gaviota golondrina gorrión grillo halcón hormiga jirafa koala lagartija langosta
lechuza león liebre lince llama lobo loro mapache mariposa murciélago nutria oso oveja
panda pato pelícano pez pingüino pollito poni pulpo rana ratón salmón sapo tiburón tigre
topo tortuga trucha zorro colibrí flamenco cuervo petirrojo búfalo tucán jaguar ternero
potro gatito
abeto acacia álamo bambú cactus cedro ciprés roble arce helecho hiedra jazmín lavanda lirio
loto margarita menta musgo olivo orquídea palmera pino amapola romero rosa sauce salvia
tomillo trébol tulipán violeta girasol albahaca cardo brezo magnolia clavel dalia laurel
abedul haya castaño encina narciso azucena orégano perejil
aceituna aguacate ajo albaricoque almendra arroz avena azúcar cacao café calabaza canela
cebolla cereza chocolate ciruela coco dátil espinaca frambuesa fresa galleta guisante higo
jengibre kiwi leche lechuga lenteja limón maíz mandarina mango manzana mantequilla
melocotón melón miel mermelada naranja nuez pan pasta pastel patata pera pimiento piña
pizza queso rábano sandía sopa tarta té tomate uva yogur zanahoria churro tortilla arándano
pasa garbanzo apio brócoli berenjena gofre bizcocho panecillo empanada
rojo azul verde amarillo morado marrón gris dorado plateado bronce beige turquesa índigo
ocre púrpura celeste ámbar marfil coral esmeralda zafiro rubí escarlata cobalto lila
carmesí caqui magenta cian granate
ancla globo pelota banco barco vela botella brújula cuenco bota cepillo candado cuaderno
mapa casco gorra silla sombrero calcetín zapato tijeras llave campana cofre cojín lápiz
cuchara bandera bufanda abanico ventana flauta tenedor guante guitarra arpa reloj lámpara
linterna libro lupa trineo gafas abrigo martillo espejo mantel cesta paraguas peine pincel
piano radio cinta bolso cubo bolígrafo mesa tambor alfombra taza tetera tienda sello
tren trompeta maleta jarrón bicicleta violín cometa botón anillo pala regadera delantal
cuerda escalera plato mochila cazo vaso balde canoa columpio tractor sartén almohada manta
bahía bosque cascada colina costa desierto duna estanque acantilado río glaciar cueva isla
jardín lago laguna mar montaña oasis océano playa pradera arrecife roca arroyo sendero
cumbre manantial valle huerto volcán luna estrella sol lluvia nieve nube arcoíris guijarro
hoja semilla planeta brisa niebla rocío ola arena caracola cabo fiordo pantano prado selva
meseta
"""

_AR = """
أسد نمر فيل زرافة حصان جمل غزال أرنب سلحفاة بطة إوزة ديك عصفور حمامة نسر صقر
ببغاء طاووس نحلة نملة فراشة دلفين حوت سمكة قطة ماعز ثعلب ذئب دب سنجاب قنفذ ضفدع
حلزون أخطبوط قرش فقمة بطريق نعامة كنغر باندا كوالا لقلق بجعة هدهد بلبل حسون سنونو يمامة
مهر عجل وعل ظبي أيل فهد سحلية دعسوقة يعسوب نورس سلمون تونة جمبري محار لؤلؤ مرجان
نخلة زيتونة شجرة وردة ياسمين زنبق خزامى نعناع ريحان زعتر صبار صنوبر أرز بلوط صفصاف سرو
قرنفل بنفسج أقحوان لوتس سوسن نرجس ميرمية طحلب سرخس خيزران قصب برسيم غار تين رمان كرمة
زيزفون حور فل أوركيد
تفاحة برتقالة موزة عنب بطيخ شمام مشمش خوخ كمثرى فراولة ليمون مانجو كرز تمر جوز لوز فستق
بندق خبز جبنة زبدة عسل حليب لبن عدس حمص فول بازلاء جزر بصل ثوم طماطم خيار فلفل بطاطا
باذنجان ملفوف سبانخ خس فجل قرع ذرة شوفان قمح سكر قرفة زنجبيل كعكة بسكويت فطيرة شاي قهوة
كاكاو شوكولاتة مربى حساء سلطة معكرونة بيتزا زيتون كنافة بقلاوة حلاوة فطر كيوي أناناس
زبيب بسبوسة معمول كعك
أحمر أزرق أخضر أصفر برتقالي بنفسجي وردي بني رمادي ذهبي فضي برونزي بيج فيروزي نيلي كحلي
أرجواني قرمزي عاجي زيتوني سماوي كهرماني مرجاني زمردي ياقوتي عنابي ليلكي لازوردي
مفتاح كتاب قلم دفتر كرسي طاولة مصباح فانوس شمعة ساعة مرآة مظلة حقيبة قبعة وشاح قفاز
معطف سترة خاتم سوار قلادة مشط فرشاة منشفة وسادة بطانية سجادة ستارة نافذة باب سلة دلو
إبريق فنجان كوب صحن ملعقة شوكة قدر غلاية زجاجة جرة مزهرية طبل عود ناي كمان قيثارة بيانو
جيتار بوق جرس بوصلة خريطة كرة بالون دراجة قارب سفينة شراع مرساة مجداف قطار جرار عربة خيمة
حبل سلم مطرقة مغناطيس إبرة خيط زر مقص ممحاة مسطرة طابع ظرف رسالة مروحة راديو كاميرا
نظارة منظار مكنسة أريكة رف صندوق لوح طباشير لغز مفرش إطار قنديل شال عباءة صندل حصيرة وعاء
بحر محيط نهر بحيرة جبل تل وادي صحراء واحة غابة شاطئ جزيرة خليج شلال كهف بركان ينبوع
نبع جدول مرج سهل هضبة كثيب صخرة حصاة رمل قمر شمس نجمة سحابة مطر ثلج نسيم ضباب ندى موجة
صدفة ورقة بذرة زهرة كوكب نيزك فجر غيمة بستان حديقة حقل مزرعة ساحل منارة جسر ميناء مرفأ
نخيل قمة جليد بئر سنبلة غصن جذع عشب
"""

# The word list for each language code of settings.LANGUAGES.
WORDS: dict[str, tuple[str, ...]] = {
    code: tuple(text.split())
    for code, text in {
        "en": _EN,
        "de": _DE,
        "nl": _NL,
        "fr": _FR,
        "es": _ES,
        "ar": _AR,
    }.items()
}
