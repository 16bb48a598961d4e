package synth

// givenNames are common French given names across generations, from the
// names of people born in the 1930s to those of young adults today.
var givenNames = []string{
	// Women.
	"Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie",
	"Isabelle", "Sylvie", "Anne", "Martine", "Christine", "Sophie",
	"Valérie", "Sandrine", "Céline", "Stéphanie", "Nicole", "Véronique",
	"Jacqueline", "Chantal", "Brigitte", "Patricia", "Dominique", "Hélène",
	"Christiane", "Julie", "Aurélie", "Émilie", "Camille", "Laura", "Sarah",
	"Manon", "Léa", "Chloé", "Emma", "Inès", "Jade", "Louise", "Alice",
	"Lina", "Rose", "Anna", "Mila", "Ambre", "Julia", "Zoé", "Lou", "Léna",
	"Juliette", "Margaux", "Mathilde", "Pauline", "Marion", "Lucie",
	"Charlotte", "Élodie", "Audrey", "Caroline", "Virginie", "Laurence",
	"Florence", "Corinne", "Annie", "Danielle", "Madeleine", "Simone",
	"Denise", "Yvette", "Odette", "Colette", "Paulette", "Suzanne",
	"Germaine", "Marcelle", "Geneviève", "Josiane", "Michèle", "Évelyne",
	"Claudine", "Béatrice", "Agnès", "Muriel", "Karine", "Séverine",
	"Delphine", "Laetitia", "Élise", "Clémence", "Océane", "Marine",
	"Justine", "Clara", "Lola", "Maëlle", "Agathe", "Capucine", "Romane",
	"Victoire", "Adèle", "Yasmine", "Fatima", "Amina", "Leïla", "Nadia",
	"Samia", "Aïcha", "Sonia", "Myriam", "Khadija", "Salomé", "Noémie",
	"Eva", "Nina", "Mélanie", "Morgane", "Coralie", "Gaëlle", "Solène",
	"Estelle", "Hortense", "Bernadette", "Thérèse", "Marguerite",
	"Lucienne", "Gisèle", "Renée", "Arlette", "Huguette", "Ginette",
	"Raymonde", "Jeannine", "Éliane", "Nadine", "Maryse", "Régine",
	"Mireille", "Joëlle", "Fabienne", "Pascale", "Cécile", "Anaïs",
	"Mélissa", "Elsa", "Alix", "Apolline", "Jeanine", "Lydie", "Ophélie",
	"Gwendoline", "Rachel", "Sabrina", "Vanessa", "Jessica", "Amandine",
	"Cindy", "Carole", "Marthe", "Yvonne", "Paule", "Rosalie",
	"Victoria", "Assia", "Malika", "Nora", "Hanane", "Awa", "Fatou",
	"Aminata", "Mariam", "Linh", "Mai",
	// Men.
	"Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Bernard",
	"Jacques", "Daniel", "Patrick", "Nicolas", "Christophe", "Éric",
	"Frédéric", "Laurent", "Stéphane", "Thierry", "Olivier", "Pascal",
	"David", "Sébastien", "Julien", "Thomas", "Alexandre", "Guillaume",
	"Antoine", "Maxime", "Romain", "Vincent", "Jérôme", "François",
	"Bruno", "Didier", "Gérard", "Serge", "Claude", "Christian", "René",
	"Marcel", "Roger", "Robert", "Henri", "Louis", "Paul", "Lucas", "Hugo",
	"Gabriel", "Léo", "Raphaël", "Arthur", "Jules", "Adam", "Noah", "Ethan",
	"Nathan", "Théo", "Tom", "Mathis", "Enzo", "Mohamed", "Karim", "Mehdi",
	"Yanis", "Rayan", "Bilal", "Samir", "Rachid", "Youssef", "Omar",
	"Hamza", "Sacha", "Timothée", "Baptiste", "Quentin", "Kévin",
	"Florian", "Anthony", "Mickaël", "Jérémy", "Benjamin", "Damien",
	"Cédric", "Fabrice", "Franck", "Hervé", "Yves", "Gilles", "Denis",
	"Luc", "Marc", "Xavier", "Emmanuel", "Arnaud", "Ludovic", "Mathieu",
	"Cyril", "Loïc", "Yannick", "Gaël", "Erwan", "Killian", "Clément",
	"Valentin", "Adrien", "Martin", "Victor", "Axel", "Lucien", "Gaston",
	"Albert", "Raymond", "Georges", "Maurice", "Fernand", "Émile", "Marius",
	"Léon", "Gustave", "Aimé", "Armand", "Joseph", "Noël", "Guy",
	"Gilbert", "Lionel", "Régis", "Sylvain", "Hugues", "Benoît",
	"Grégoire", "Bastien", "Aurélien", "Jonathan", "Dylan", "Kylian",
	"Nolan", "Timéo", "Sami", "Ismaël", "Malik", "Amine", "Ibrahim",
	"Moussa", "Mamadou", "Abdel", "Nassim", "Tristan", "Eliott", "Gaspard",
	"Augustin", "Côme", "Aymeric", "Édouard", "Félix", "Basile", "Marceau",
	"Simon", "Samuel", "Élias", "Liam", "Isaac", "Ilyes", "Wassim",
	"Jean-Pierre", "Jean-Claude", "Jean-Luc", "Jean-Marc", "Jean-François",
	"Jean-Paul", "Jean-Michel", "Pierre-Yves", "Marc-Antoine", "Anne-Marie",
	"Marie-Claude", "Marie-Thérèse", "Marie-France", "Marie-Christine",
	"Rémi", "Thibault", "Matthieu", "Fabien", "Jordan", "Mathias", "Boris",
	"Igor", "Dimitri", "Alexis", "Corentin", "Morgan", "Tanguy", "Yann",
	"Ronan", "Malo", "Titouan", "Évan", "Ulysse", "Achille", "Léandre",
	"Octave", "Bertrand", "Roland", "Jean-Baptiste", "Karl", "Léonard",
	"Ahmed", "Ali", "Sofiane", "Walid", "Abdoulaye", "Ousmane", "Minh",
}

// familyNames are common French family names, including the names of
// families from Brittany, Alsace, overseas France, North and West Africa,
// the Iberian peninsula and Vietnam that are common in France.
var familyNames = []string{
	"Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand",
	"Dubois", "Moreau", "Laurent", "Simon", "Michel", "Lefebvre", "Leroy",
	"Roux", "David", "Bertrand", "Morel", "Fournier", "Girard", "Bonnet",
	"Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller",
	"Lefèvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer",
	"Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia",
	"Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel",
	"Mathieu", "Gautier", "Masson", "Marchand", "Duval", "Denis", "Dumont",
	"Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier", "Brun",
	"Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard",
	"Barbier", "Arnaud", "Martinez", "Gérard", "Roche", "Renard", "Schmitt",
	"Roy", "Leroux", "Colin", "Vidal", "Caron", "Picard", "Roger", "Fabre",
	"Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix", "Olivier", "Philippe",
	"Bourgeois", "Pierre", "Benoît", "Rey", "Leclerc", "Payet", "Rolland",
	"Leclercq", "Guillaume", "Lecomte", "Lopez", "Jean", "Dupuy", "Guillot",
	"Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis", "Moulin", "Louis",
	"Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer",
	"Klein", "Jacquet", "Adam", "Paris", "Poirier", "Marty", "Aubry",
	"Guyot", "Carré", "Charles", "Renault", "Charpentier", "Ménard",
	"Maillard", "Baron", "Bertin", "Bailly", "Hervé", "Schneider",
	"Fernandez", "Le Gall", "Collet", "Léger", "Bouvier", "Julien",
	"Prévost", "Millet", "Perrot", "Daniel", "Le Roux", "Cousin", "Germain",
	"Breton", "Besson", "Langlois", "Rémy", "Le Goff", "Pelletier",
	"Lévêque", "Perrier", "Leblanc", "Barré", "Lebrun", "Marchal", "Weber",
	"Mallet", "Hamon", "Boulanger", "Jacob", "Monnier", "Michaud",
	"Rodriguez", "Guichard", "Gillet", "Étienne", "Grondin", "Poulain",
	"Tessier", "Chevallier", "Collin", "Chauvin", "Da Silva", "Bouchet",
	"Gay", "Lemaître", "Bénard", "Maréchal", "Humbert", "Reynaud",
	"Antoine", "Hoarau", "Perret", "Barthélemy", "Cordier", "Pichon",
	"Lejeune", "Gilbert", "Lamy", "Delaunay", "Pasquier", "Carlier",
	"Laporte", "Gomez", "Rodrigues", "Fernandes", "Lefort", "Haddad",
	"Benali", "Mansouri", "Nguyen", "Tran", "Diallo", "Traoré", "Camara",
	"Diop", "Ndiaye", "Koné", "Cissé", "Moreno", "Ferreira", "Dos Santos",
	"Pereira", "Oliveira", "Costa", "Leblond", "Texier", "Guillon",
	"Baudry", "Bouchard", "Bourdon", "Lebon", "Hardy", "Tanguy", "Le Bihan",
	"Jourdan", "Favre", "Bigot", "Ferrand", "Régnier", "Launay", "Blondel",
	"Boutin", "Morvan", "Besnard", "Navarro", "Delorme", "Lagarde",
	"Ollivier", "Briand", "Coulon", "Allard", "Brunel", "Pons", "Ribeiro",
	"Rocher", "Verdier", "Raynaud", "Devaux", "Jolly", "Leduc", "Lacombe",
	"Guillou", "Fouquet", "Bazin", "Salmon", "Hébert", "Charrier", "Lainé",
	"Bouvet", "Marion", "Barbe", "Riviere", "Hamel", "Laine", "Gros",
	"Lemaitre", "Cohen", "Levy", "Benoit", "Rousset", "Poulet", "Courtois",
	"Tournier", "Bonnin", "Vallée", "Thibault", "Maillot", "Auger",
	"Kerjean", "Le Corre", "Le Floch", "Quéré", "Riou", "Le Guen",
	"Zimmermann", "Wagner", "Fischer", "Koch", "Hoffmann", "Bauer",
	"Ben Ahmed", "Belkacem", "Bouzid", "Cherif", "Hamdi", "Saïdi", "Amrani",
	"Rahmani", "Benamar", "Ouali", "Sow", "Ba", "Fofana", "Sylla", "Keïta",
	"Pham", "Le", "Vu", "Hoang", "Dang", "Santos", "Martins", "Almeida",
	"Lopes", "Gonçalves", "Marques",
}

// streetTypes are the kinds of street of a French address, with "rue"
// repeated because most addresses are in one.
var streetTypes = []string{
	"rue", "rue", "rue", "rue", "rue", "rue", "avenue", "avenue",
	"boulevard", "place", "impasse", "allée", "quai", "passage", "square",
	"villa", "cité", "chemin",
}

// streetNames complete a street type into a street name. They are the
// usual dedications of French streets, not a list of existing addresses.
var streetNames = []string{
	"des Lilas", "Victor Hugo", "de la République", "Jean Jaurès",
	"du Général de Gaulle", "Pasteur", "de la Paix", "des Écoles",
	"du Moulin", "de la Gare", "des Roses", "Voltaire", "Émile Zola",
	"Gambetta", "Jules Ferry", "de la Liberté", "du Marché", "des Tilleuls",
	"Louise Michel", "George Sand", "Simone Veil", "Marie Curie",
	"Jean Moulin", "de Verdun", "de la Fontaine", "des Acacias",
	"du Château", "de l'Église", "des Prés", "du Stade", "Anatole France",
	"Paul Bert", "Carnot", "Diderot", "Molière", "Racine",
	"Jean de La Fontaine", "Alphonse Daudet", "des Peupliers",
	"des Vignes", "du Port", "de la Mairie", "Saint-Martin", "Saint-Michel",
	"de Bretagne", "de Provence", "des Jardins", "du Parc", "des Marronniers",
	"Lamartine", "Condorcet", "Olympe de Gouges", "Rosa Parks",
	"Nelson Mandela", "Aristide Briand", "Léon Blum", "Jean-Jacques Rousseau",
	"des Artisans", "des Cerisiers", "de la Croix", "du Canal",
	"de la Forge", "des Batignolles", "de Belleville", "de Charonne",
	"de Ménilmontant", "Oberkampf", "de la Roquette", "du Faubourg",
	"des Martyrs", "Lepic", "Mouffetard", "Daguerre", "de Vaugirard",
	"de la Convention", "Saint-Maur", "des Pyrénées", "de Flandre",
	"Championnet", "Ordener", "Caulaincourt", "de Tolbiac",
	"de la Glacière", "d'Alésia", "Raymond Losserand", "de Crimée",
}

// addressComplements sometimes follow the street address.
var addressComplements = []string{
	"bâtiment A", "bâtiment B", "escalier 2", "3e étage", "5e étage",
	"appartement 12", "appartement 4", "rez-de-chaussée", "porte droite",
	"porte gauche", "résidence Les Tilleuls", "au fond de la cour",
}

// interests are the interest tags of the default schema's civic CRM.
var interests = []string{
	"cycling", "culture", "ecology", "sport", "education", "housing",
	"transport", "elderly_care", "health", "youth", "security",
	"local_business", "urban_planning", "heritage", "solidarity",
	"animal_welfare", "digital", "employment", "childcare", "parks",
}

// supportLevels are the values of the default schema's support_level enum.
var supportLevels = []string{
	"strong_support", "support", "undecided", "oppose", "strong_oppose",
}

// consentSources say where a consent was collected.
var consentSources = []string{
	"web form", "paper form", "public meeting", "door-to-door",
	"phone call", "newsletter sign-up", "event registration", "town hall desk",
}

// notes are the free-text notes of a case worker.
var notes = []string{
	"Souhaite être recontacté au sujet du stationnement résidentiel.",
	"A signalé un éclairage public défaillant dans sa rue.",
	"Intéressé par le conseil de quartier, disponible le soir.",
	"Demande des informations sur les inscriptions à la cantine scolaire.",
	"Bénévole lors de la dernière fête de quartier.",
	"Préfère être contacté par courrier plutôt que par téléphone.",
	"Question sur les horaires de la médiathèque.",
	"Souhaite participer aux ateliers sur la rénovation énergétique.",
	"A demandé un rendez-vous avec l'élu de secteur.",
	"Signale des problèmes de propreté près de l'école.",
	"Propose d'aider à la distribution des colis solidaires.",
	"Intéressée par les jardins partagés du quartier.",
	"Demande un suivi de sa demande de logement social.",
	"Souhaite une piste cyclable sécurisée vers le collège.",
	"Disponible pour le porte-à-porte le samedi matin.",
	"Ne souhaite plus recevoir d'appels, seulement des courriels.",
	"Aide ses voisins âgés pour leurs démarches en ligne.",
	"A participé à la réunion publique sur le budget participatif.",
}

// arrondissements weights the twenty arrondissements of Paris roughly by
// population: an arrondissement appears once per 10,000 inhabitants or so.
var arrondissements = func() []uint8 {
	pop := [20]int{2, 2, 3, 3, 6, 4, 5, 4, 6, 9, 14, 14, 18, 14, 23, 17, 17, 19, 19, 19}
	var out []uint8
	for i, n := range pop {
		for range n {
			out = append(out, uint8(i+1))
		}
	}
	return out
}()
